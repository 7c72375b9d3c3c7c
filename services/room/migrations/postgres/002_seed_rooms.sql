-- Rooms the demo and the tests rely on (see the constants of package room).
INSERT INTO rooms (id, number, type, capacity, rate_amount, currency) VALUES
	('7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d', '0412', 'double', 2, '18000.00', 'JPY'),
	('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f', '0101', 'single', 1, '9500.00', 'JPY'),
	('4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8', '0305', 'twin', 2, '16000.00', 'JPY'),
	('9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a', '1201', 'suite', 4, '52000.00', 'JPY');
