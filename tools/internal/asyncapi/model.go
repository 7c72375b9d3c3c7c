package asyncapi

// This file holds the objects of the AsyncAPI 3 model that Keiyaku checks
// but does not generate from: security schemes, channel parameters, server
// variables, correlation ids, replies, tags and external docs.

// SecurityScheme is a Security Scheme Object.
type SecurityScheme struct {
	// Name is the key of the scheme's definition, empty for an inline one.
	Name string
	// Type is one of the types of the specification: userPassword, apiKey,
	// X509, symmetricEncryption, asymmetricEncryption, httpApiKey, http,
	// oauth2, openIdConnect, plain, scramSha256, scramSha512, gssapi.
	Type         string
	Description  string
	In, Scheme   string
	BearerFormat string
	// Scopes are the scopes the requirement needs (oauth2, openIdConnect).
	Scopes []string
	Pos
}

// securityTypes are the Security Scheme types of AsyncAPI 3.
var securityTypes = []string{"userPassword", "apiKey", "X509", "symmetricEncryption", "asymmetricEncryption",
	"httpApiKey", "http", "oauth2", "openIdConnect", "plain", "scramSha256", "scramSha512", "gssapi"}

// Parameter is a parameter of a channel address: {name} in the address.
type Parameter struct {
	Name        string
	Description string
	Enum        []string
	Default     string
	Examples    []string
	// Location is a runtime expression saying where the value comes from,
	// e.g. "$message.payload#/user/id"; empty if none.
	Location string
	Pos
}

// ServerVariable is a variable of a server's host or pathname.
type ServerVariable struct {
	Name        string
	Description string
	Enum        []string
	Default     string
	Examples    []string
	Pos
}

// CorrelationID says where a message carries the id that pairs it with
// another: a runtime expression such as "$message.header#/correlationId".
type CorrelationID struct {
	Description string
	Location    string
	Pos
}

// Reply is the reply of a request/reply operation.
type Reply struct {
	// Address is where to send the reply, nil when the reply channel's
	// address is it.
	Address *ReplyAddress
	// Channel is the channel of the reply, nil when the address is found
	// at runtime.
	Channel *Channel
	// Messages are the messages of the reply, all of the channel's when
	// it lists none.
	Messages []*Message
	Pos
}

// ReplyAddress is where a reply goes: a runtime expression, e.g.
// "$message.header#/replyTo".
type ReplyAddress struct {
	Description string
	Location    string
	Pos
}

// Tag is a Tag Object.
type Tag struct {
	Name, Description string
}
