module example.com/petstore
