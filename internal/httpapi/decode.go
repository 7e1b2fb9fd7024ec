package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/heraldpay/herald/internal/validation"
)

// DefaultMaxBody bounds request bodies: a session with 100 line items and
// full metadata is about 60 KiB.
const DefaultMaxBody = 256 << 10

// Decode reads r's JSON body into dst strictly: the body must be one JSON
// object, within maxBytes, with no field dst does not declare and no value
// of the wrong type. Errors are *Error values naming the problem and, where
// there is one, the parameter in bracket notation (line_items[0][quantity]).
func Decode(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Type: TypeInvalidRequest, Code: "unsupported_media_type",
				Message: "Content-Type must be application/json."}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return tooLargeOrUnreadable(err, maxBytes)
	}
	return DecodeBytes(body, dst)
}

// DecodeOptional is Decode for endpoints whose body may be left out
// entirely (every field optional): an empty body leaves dst untouched.
func DecodeOptional(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return tooLargeOrUnreadable(err, maxBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return Decode(w, r, maxBytes, dst)
}

func tooLargeOrUnreadable(err error, maxBytes int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidRequest, Code: "body_too_large",
			Message: fmt.Sprintf("The request body must be at most %d bytes.", maxBytes)}
	}
	return &validation.Error{Code: "body_unreadable", Message: "The request body could not be read."}
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &validation.Error{Code: "body_missing", Message: "The request body is empty; send a JSON object."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &validation.Error{Code: "json_invalid",
			Message: "The request body must contain a single JSON object, but more data follows it."}
	}
	if _, ok := tree.(map[string]any); !ok {
		return &validation.Error{Code: "json_invalid", Message: "The request body must be a JSON object."}
	}
	if err := check(tree, reflect.TypeOf(dst).Elem(), ""); err != nil {
		return err
	}
	// The tree matched dst's shape, so this cannot fail on types or fields.
	if err := json.Unmarshal(body, dst); err != nil {
		return &validation.Error{Code: "json_invalid", Message: "The request body could not be decoded: " + err.Error()}
	}
	return nil
}

func malformed(err error) *validation.Error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &validation.Error{Code: "json_invalid",
			Message: fmt.Sprintf("The request body is not valid JSON (at byte %d): %s.", syn.Offset, syn.Error())}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &validation.Error{Code: "json_invalid", Message: "The request body is not valid JSON: it ends too early."}
	}
	return &validation.Error{Code: "json_invalid", Message: "The request body is not valid JSON: " + err.Error() + "."}
}

// check walks a decoded JSON value against the Go type it will be decoded
// into, reporting unknown fields, type mismatches and control characters in
// strings and keys with their full path. encoding/json reports none of
// these with a usable path, and control characters must be refused here,
// for every parameter at once: PostgreSQL refuses NUL in text (a 500 after
// the fact), and the others have no business in names, URLs or metadata.
func check(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null leaves the Go zero value, which validation then judges
	}
	param := path
	if param == "" {
		param = "body"
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongType(param, "an object", v)
		}
		fields := jsonFields(t)
		for key, val := range obj {
			if err := checkKey(key, path); err != nil {
				return err
			}
			f, ok := fields[key]
			if !ok {
				return &validation.Error{Param: join(path, key), Code: "parameter_unknown",
					Message: fmt.Sprintf("Received unknown parameter: %s.", join(path, key))}
			}
			if err := check(val, f.Type, join(path, key)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongType(param, "an object", v)
		}
		for key, val := range obj {
			if err := checkKey(key, path); err != nil {
				return err
			}
			if err := check(val, t.Elem(), join(path, key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return wrongType(param, "an array", v)
		}
		for i, val := range arr {
			if err := check(val, t.Elem(), join(path, strconv.Itoa(i))); err != nil {
				return err
			}
		}
	case reflect.String:
		str, ok := v.(string)
		if !ok {
			return wrongType(param, "a string", v)
		}
		if validation.HasControl(str) {
			return &validation.Error{Param: param, Code: validation.CodeInvalid,
				Message: fmt.Sprintf("Invalid value for %s: %s.", param, validation.MessageControl)}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrongType(param, "a boolean", v)
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return wrongType(param, "an integer", v)
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			if strings.ContainsAny(string(n), ".eE") {
				return &validation.Error{Param: param, Code: "parameter_invalid_integer",
					Message: fmt.Sprintf("Invalid integer: %s; %s must be a whole number.", n, param)}
			}
			return &validation.Error{Param: param, Code: "parameter_invalid_integer",
				Message: fmt.Sprintf("Invalid integer: %s is out of range.", n)}
		}
	case reflect.Interface:
		// Any JSON is acceptable, but not control characters in it.
		return checkAnyText(v, path)
	default:
		panic("httpapi: cannot check JSON against " + t.String())
	}
	return nil
}

// checkKey refuses an object key holding a control character. The error
// names the object rather than the key, so that the key's bytes are not
// sent back.
func checkKey(key, path string) error {
	if !validation.HasControl(key) {
		return nil
	}
	if path == "" {
		return &validation.Error{Code: validation.CodeInvalid, Message: "Invalid parameter name: " + validation.MessageControl + "."}
	}
	return &validation.Error{Param: path, Code: validation.CodeInvalid,
		Message: fmt.Sprintf("Invalid key in %s: %s.", path, validation.MessageControl)}
}

// checkAnyText refuses control characters anywhere in a free-form JSON
// value: its strings and its keys.
func checkAnyText(v any, path string) error {
	switch v := v.(type) {
	case string:
		if validation.HasControl(v) {
			return &validation.Error{Param: path, Code: validation.CodeInvalid,
				Message: fmt.Sprintf("Invalid value for %s: %s.", path, validation.MessageControl)}
		}
	case map[string]any:
		for key, val := range v {
			if err := checkKey(key, path); err != nil {
				return err
			}
			if err := checkAnyText(val, join(path, key)); err != nil {
				return err
			}
		}
	case []any:
		for i, val := range v {
			if err := checkAnyText(val, join(path, strconv.Itoa(i))); err != nil {
				return err
			}
		}
	}
	return nil
}

func wrongType(param, want string, got any) *validation.Error {
	return &validation.Error{Param: param, Code: "parameter_invalid_type",
		Message: fmt.Sprintf("Invalid type for %s: expected %s, got %s.", param, want, jsonKind(got))}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "null"
}

// join builds bracket notation: join("line_items", "0") = "line_items[0]".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "[" + key + "]"
}

// jsonFields maps the JSON names of t's exported fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}
