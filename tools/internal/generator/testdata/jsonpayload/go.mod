module example.com/jsonpayload
