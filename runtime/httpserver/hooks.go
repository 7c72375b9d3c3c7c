package httpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// ParamErrorHandler answers a request whose parameters the generated
// handler could not bind (its StdHTTPServerOptions.ErrorHandlerFunc) with
// a 400 problem naming the parameter, instead of oapi-codegen's
// text/plain default:
//
//	roomv1.HandlerWithOptions(si, roomv1.StdHTTPServerOptions{
//		ErrorHandlerFunc: httpserver.ParamErrorHandler,
//	})
//
// It recognises the error types oapi-codegen generates in every server
// package (InvalidParamFormatError, RequiredParamError,
// RequiredHeaderError, TooManyValuesForParamError, UnmarshalingParamError,
// UnescapedCookieParamError) by their name and ParamName field. Behind
// [Validator] it is rarely reached: the validator rejects those requests
// first.
func ParamErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if writeTooLarge(w, r, err) {
		return
	}
	name, kind := paramError(err)
	reason := "is invalid"
	switch kind {
	case "RequiredParamError", "RequiredHeaderError":
		reason = "is required"
	case "InvalidParamFormatError":
		reason = "has an invalid format"
	case "TooManyValuesForParamError":
		reason = "must be sent once"
	case "UnmarshalingParamError":
		reason = "cannot be decoded"
	case "UnescapedCookieParamError":
		reason = "cannot be unescaped"
	}
	field := "request"
	if name != "" {
		field = paramLocation(r, name, kind) + "." + name
	}
	p := problem.BadRequest("request validation failed", problem.FieldError{Field: field, Reason: reason})
	p.Instance = r.URL.EscapedPath()
	problem.Write(w, p)
}

// paramError returns the ParamName field and the type name of a generated
// parameter error, or "" for other errors.
func paramError(err error) (name, kind string) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", ""
	}
	f := v.Elem().FieldByName("ParamName")
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", ""
	}
	return f.String(), v.Elem().Type().Name()
}

// paramLocation guesses where the parameter name was sent.
func paramLocation(r *http.Request, name, kind string) string {
	switch {
	case kind == "RequiredHeaderError":
		return "header"
	case kind == "RequiredParamError":
		return "query"
	case kind == "UnescapedCookieParamError":
		return "cookie"
	case r.PathValue(name) != "":
		return "path"
	case r.URL.Query().Has(name):
		return "query"
	case len(r.Header.Values(name)) > 0:
		return "header"
	}
	return "parameter"
}

// RequestErrorHandler answers a request whose body the generated strict
// handler could not decode (its
// StrictHTTPServerOptions.RequestErrorHandlerFunc): 413 when the body was
// over the server's limit, otherwise 400 naming the body field when the
// JSON decoder tells it.
func RequestErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if writeTooLarge(w, r, err) {
		return
	}
	fe := problem.FieldError{Field: "body", Reason: "cannot be decoded"}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			fe.Field = "body." + typeErr.Field
		}
		fe.Reason = "must not be a JSON " + typeErr.Value
	case errors.As(err, &syntaxErr):
		fe.Reason = fmt.Sprintf("is not valid JSON (offset %d)", syntaxErr.Offset)
	}
	p := problem.BadRequest("the request body cannot be decoded", fe)
	p.Instance = r.URL.EscapedPath()
	problem.Write(w, p)
}

// ResponseErrorHandler returns the handler of errors returned by the
// operations of a generated strict server (its
// StrictHTTPServerOptions.ResponseErrorHandlerFunc). An error that is, or
// wraps, a *[problem.Problem] is written as that problem — how an
// operation answers 404 or 422 by returning an error. Any other error is
// logged with logger (nil discards) and answered with a generic 500
// problem that tells the client nothing about it.
func ResponseErrorHandler(logger *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var p *problem.Problem
		if errors.As(err, &p) && p != nil {
			if p.Status >= 500 {
				logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			}
			out := *p
			if out.Instance == "" {
				out.Instance = r.URL.EscapedPath()
			}
			problem.Write(w, &out)
			return
		}
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Internal()
		p.Instance = r.URL.EscapedPath()
		problem.Write(w, p)
	}
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, err error) bool {
	var tooLarge *http.MaxBytesError
	if !errors.As(err, &tooLarge) {
		return false
	}
	p := problem.TooLarge(fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit))
	p.Instance = r.URL.EscapedPath()
	problem.Write(w, p)
	return true
}
