package generator

import (
	"bytes"
	"fmt"
	"go/format"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// ClientsFile is the generated file that holds a service's constructors
// of the clients it uses.
const ClientsFile = "clients" + Suffix

// resiliencePkg is the import path of the runtime the clients run on.
const resiliencePkg = "github.com/keiyaku/keiyaku/runtime/resilience"

type provider struct {
	Ident      string // Go name stem: "Member"
	Service    string
	Module     string
	Alias      string // import alias: "memberv1"
	ImportPath string
	Policy     []string // fields of resilience.Policy, as Go
	LastGood   string   // TTL expression when the fallback is last-good
	LastGoodIn string   // the TTL for people: "5m0s"
}

var clientsTmpl = template.Must(template.New("clients").Parse(`{{.Header}}
// source: {{.Source}}

package {{.Package}}

import (
	"fmt"
{{- if .NeedHTTP}}
	"net/http"
{{- end}}
	"slices"
{{- if .NeedTime}}
	"time"
{{- end}}

{{range .Providers}}	{{.Alias}} "{{.ImportPath}}"
{{end}}	"{{.Resilience}}"
)
{{range .Providers}}
// {{.Ident}}Policy is how {{$.Service}} calls {{.Service}} ({{.Module}}), from
// the uses entry in keiyaku.yaml. Zero fields keep the defaults of package
// resilience.
var {{.Ident}}Policy = resilience.Policy{ {{- range .Policy}}
	{{.}},{{end}}
}

// New{{.Ident}}Client returns a client of {{.Service}} ({{.Module}}) at server
// whose calls go through a resilience.Client named "{{.Service}}": timeouts,
// retries only where safe, a retry budget and a circuit breaker per
// {{.Ident}}Policy{{if .LastGood}}, and the last good response of a GET served as a
// fallback for up to {{.LastGoodIn}}{{end}}. opts come last and override all of it.
func New{{.Ident}}Client(server string, opts ...resilience.Option) (*{{.Alias}}.ClientWithResponses, error) {
	base := {{.Ident}}Policy.Options()
{{- if .LastGood}}
	base = append(base, resilience.WithFallback(
		func(r *http.Request) bool { return r.Method == http.MethodGet },
		resilience.LastGood({{.LastGood}}, 1024),
	))
{{- end}}
	rc, err := resilience.New("{{.Service}}", slices.Concat(base, opts)...)
	if err != nil {
		return nil, fmt.Errorf("{{.Service}} client: %w", err)
	}
	c, err := {{.Alias}}.NewClientWithResponses(server, {{.Alias}}.WithHTTPClient(rc))
	if err != nil {
		return nil, fmt.Errorf("{{.Service}} client: %w", err)
	}
	return c, nil
}
{{end}}`))

// generateClients writes the constructors of the clients module m's
// service uses, with the policies of its uses entries.
func generateClients(cfg *config.Config, m config.Module) ([]byte, error) {
	var providers []provider
	for _, u := range m.Uses {
		p, _ := cfg.Module(u.Module)
		providers = append(providers, provider{
			Ident:      goIdent(p.Service),
			Service:    p.Service,
			Module:     p.Path,
			Alias:      p.GoPackage(),
			ImportPath: cfg.ImportPath(p),
			Policy:     policyFields(u),
			LastGood:   lastGoodTTL(u),
		})
		if u.Fallback == config.FallbackLastGood {
			ttl := config.DefaultFallbackTTL
			if u.FallbackTTL != 0 {
				ttl = u.FallbackTTL
			}
			providers[len(providers)-1].LastGoodIn = time.Duration(ttl).String()
		}
	}
	// Two versions of one service: name them apart by version.
	for i := range providers {
		for j := range providers {
			if i != j && providers[i].Ident == providers[j].Ident {
				providers[i].Ident += goIdent(path.Base(providers[i].Module))
			}
		}
	}
	needTime, needHTTP := false, false
	for _, p := range providers {
		needHTTP = needHTTP || p.LastGood != ""
		needTime = needTime || p.LastGood != "" || strings.Contains(strings.Join(p.Policy, " "), "time.")
	}
	var b bytes.Buffer
	err := clientsTmpl.Execute(&b, map[string]any{
		"Header": Header, "Source": config.FileName + " (uses of " + m.Path + ")", "Package": m.GoPackage(),
		"Service": m.Service, "Providers": providers, "Resilience": resiliencePkg,
		"NeedTime": needTime, "NeedHTTP": needHTTP,
	})
	if err != nil {
		return nil, fmt.Errorf("generate clients of %s: %w", m.Path, err)
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generate clients of %s: format: %w\n%s", m.Path, err, b.Bytes())
	}
	return out, nil
}

func policyFields(u config.Use) []string {
	var f []string
	dur := func(name string, d config.Duration) {
		if d != 0 {
			f = append(f, fmt.Sprintf("%s: %s", name, goDuration(time.Duration(d))))
		}
	}
	dur("Timeout", u.Timeout)
	dur("AttemptTimeout", u.AttemptTimeout)
	if u.MaxAttempts != 0 {
		f = append(f, "MaxAttempts: "+strconv.Itoa(u.MaxAttempts))
	}
	if u.RetryBudget != 0 {
		f = append(f, "BudgetRatio: "+strconv.FormatFloat(u.RetryBudget, 'g', -1, 64))
	}
	var br []string
	if u.Breaker.FailureRatio != 0 {
		br = append(br, "FailureRatio: "+strconv.FormatFloat(u.Breaker.FailureRatio, 'g', -1, 64))
	}
	if u.Breaker.MinRequests != 0 {
		br = append(br, "MinRequests: "+strconv.Itoa(u.Breaker.MinRequests))
	}
	if u.Breaker.ConsecutiveFailures != 0 {
		br = append(br, "ConsecutiveFailures: "+strconv.Itoa(u.Breaker.ConsecutiveFailures))
	}
	if u.Breaker.OpenTimeout != 0 {
		br = append(br, "OpenTimeout: "+goDuration(time.Duration(u.Breaker.OpenTimeout)))
	}
	if len(br) > 0 {
		f = append(f, "Breaker: resilience.BreakerSettings{"+strings.Join(br, ", ")+"}")
	}
	return f
}

func lastGoodTTL(u config.Use) string {
	if u.Fallback != config.FallbackLastGood {
		return ""
	}
	ttl := config.DefaultFallbackTTL
	if u.FallbackTTL != 0 {
		ttl = u.FallbackTTL
	}
	return goDuration(time.Duration(ttl))
}

// goDuration writes d as a Go expression: 800 * time.Millisecond.
func goDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}, {time.Microsecond, "time.Microsecond"}} {
		if d%u.unit == 0 {
			return fmt.Sprintf("%d * %s", d/u.unit, u.name)
		}
	}
	return fmt.Sprintf("%d * time.Nanosecond", d)
}
