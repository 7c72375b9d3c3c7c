module example.com/ws
