package docs

import (
	"html/template"
	"strings"
)

// funcs are the template functions.
var funcs = template.FuncMap{
	"join":  strings.Join,
	"lower": strings.ToLower,
}
