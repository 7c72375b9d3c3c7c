-- Members the demo and the tests rely on: two active, one suspended, one
-- withdrawn (see the constants of package member).
INSERT INTO members (id, name, email, status, tier, member_since) VALUES
	('3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70', 'Hanako Yamada', 'hanako.yamada@example.com', 'active', 'gold', '2019-04-01'),
	('5a7d2c1b-3e4f-4a6b-8c9d-0e1f2a3b4c5d', 'Taro Suzuki', 'taro.suzuki@example.com', 'active', 'standard', '2023-11-15'),
	('8b9c0d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e', 'Kenji Sato', 'kenji.sato@example.com', 'suspended', 'silver', '2021-06-30'),
	('c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f', 'Yuki Tanaka', 'yuki.tanaka@example.com', 'withdrawn', 'platinum', NULL);
