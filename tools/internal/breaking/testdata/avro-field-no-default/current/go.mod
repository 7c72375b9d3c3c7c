module example.com/pets
