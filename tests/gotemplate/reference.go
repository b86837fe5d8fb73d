// Command reference runs every case of cases.json through Go's own
// text/template and prints one JSON object per line:
// {"name": ..., "output": ...} or {"name": ..., "error": ...}.
//
// The data sets are built as typed Go values: the struct types below must
// match the "types" section of cases.json field by field, and the program
// refuses to run when they drift apart. It uses the standard library only:
//
//	GO111MODULE=off go run reference.go cases.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/template"
)

type Status struct {
	Status         string
	IssueCount     int64
	ExemptionCount int64
}

// Image is what `berth image-list` passes to --format.
type Image struct {
	Repository     string
	Tag            string
	Digest         string
	Namespace      string
	Created        int64
	Size           int64
	ManifestType   string
	SecurityStatus Status
}

// DigestImage is what `berth image-digests` passes to --format.
type DigestImage struct {
	Repository     string
	Digest         string
	Tags           []string
	Created        int64
	Size           int64
	ManifestType   string
	SecurityStatus Status
}

// Sample has a field of every shape the engine supports.
type Sample struct {
	Name    string
	Count   int
	Ratio   float64
	Enabled bool
	Tags    []string
	Labels  map[string]string
	Counts  map[string]int
	Floats  []float64
	Items   []interface{}
	Extra   map[string]interface{}
	Nothing interface{}
	Inner   Status
	Images  []Image
	Empty   []string
}

var namedTypes = map[string]reflect.Type{
	"main.Status":      reflect.TypeOf(Status{}),
	"main.Image":       reflect.TypeOf(Image{}),
	"main.DigestImage": reflect.TypeOf(DigestImage{}),
	"main.Sample":      reflect.TypeOf(Sample{}),
}

type dataSet struct {
	Type  string      `json:"type"`
	Value interface{} `json:"value"`
}

type testCase struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Data     string `json:"data"`
}

type caseFile struct {
	Types map[string][][2]string `json:"types"`
	Data  map[string]dataSet     `json:"data"`
	Cases []testCase             `json:"cases"`
}

type result struct {
	Name   string  `json:"name"`
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

// checkTypes fails when a struct above and its declaration in cases.json differ.
func checkTypes(declared map[string][][2]string) error {
	for name, t := range namedTypes {
		fields, ok := declared[name]
		if !ok {
			return fmt.Errorf("type %s is not declared in cases.json", name)
		}
		if len(fields) != t.NumField() {
			return fmt.Errorf("type %s has %d fields in Go and %d in cases.json", name, t.NumField(), len(fields))
		}
		for i, field := range fields {
			f := t.Field(i)
			if f.Name != field[0] || f.Type.String() != field[1] {
				return fmt.Errorf("type %s field %d is %s %s in Go and %s %s in cases.json",
					name, i, f.Name, f.Type, field[0], field[1])
			}
		}
	}
	for name := range declared {
		if _, ok := namedTypes[name]; !ok {
			return fmt.Errorf("type %s of cases.json has no Go declaration", name)
		}
	}
	return nil
}

func parseType(expr string) (reflect.Type, error) {
	switch expr {
	case "string":
		return reflect.TypeOf(""), nil
	case "bool":
		return reflect.TypeOf(false), nil
	case "int":
		return reflect.TypeOf(0), nil
	case "int64":
		return reflect.TypeOf(int64(0)), nil
	case "float64":
		return reflect.TypeOf(float64(0)), nil
	case "interface {}":
		return reflect.TypeOf((*interface{})(nil)).Elem(), nil
	}
	if strings.HasPrefix(expr, "[]") {
		elem, err := parseType(expr[2:])
		if err != nil {
			return nil, err
		}
		return reflect.SliceOf(elem), nil
	}
	if strings.HasPrefix(expr, "map[string]") {
		elem, err := parseType(expr[len("map[string]"):])
		if err != nil {
			return nil, err
		}
		return reflect.MapOf(reflect.TypeOf(""), elem), nil
	}
	if t, ok := namedTypes[expr]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %q", expr)
}

// infer gives a JSON value the Go type it gets in an interface{} slot:
// integers are int, other numbers float64, arrays []interface{} and
// objects map[string]interface{}.
func infer(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			n, err := x.Int64()
			return int(n), err
		}
		return x.Float64()
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, item := range x {
			inferred, err := infer(item)
			if err != nil {
				return nil, err
			}
			out[i] = inferred
		}
		return out, nil
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for key, item := range x {
			inferred, err := infer(item)
			if err != nil {
				return nil, err
			}
			out[key] = inferred
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %v", v)
}

// convert builds a value of type t from decoded JSON.
func convert(v interface{}, t reflect.Type) (reflect.Value, error) {
	out := reflect.New(t).Elem()
	mismatch := fmt.Errorf("JSON value %v does not fit Go type %s", v, t)
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return out, mismatch
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return out, mismatch
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return out, mismatch
		}
		i, err := n.Int64()
		if err != nil {
			return out, err
		}
		out.SetInt(i)
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return out, mismatch
		}
		f, err := n.Float64()
		if err != nil {
			return out, err
		}
		out.SetFloat(f)
	case reflect.Slice:
		items, ok := v.([]interface{})
		if !ok {
			return out, mismatch
		}
		out = reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			elem, err := convert(item, t.Elem())
			if err != nil {
				return out, err
			}
			out.Index(i).Set(elem)
		}
	case reflect.Map:
		entries, ok := v.(map[string]interface{})
		if !ok {
			return out, mismatch
		}
		out = reflect.MakeMapWithSize(t, len(entries))
		for key, item := range entries {
			elem, err := convert(item, t.Elem())
			if err != nil {
				return out, err
			}
			out.SetMapIndex(reflect.ValueOf(key), elem)
		}
	case reflect.Struct:
		fields, ok := v.(map[string]interface{})
		if !ok || len(fields) != t.NumField() {
			return out, fmt.Errorf("JSON object %v must give every field of %s", v, t)
		}
		for i := 0; i < t.NumField(); i++ {
			item, ok := fields[t.Field(i).Name]
			if !ok {
				return out, fmt.Errorf("JSON object for %s lacks field %s", t, t.Field(i).Name)
			}
			elem, err := convert(item, t.Field(i).Type)
			if err != nil {
				return out, err
			}
			out.Field(i).Set(elem)
		}
	case reflect.Interface:
		inferred, err := infer(v)
		if err != nil {
			return out, err
		}
		if inferred != nil {
			out.Set(reflect.ValueOf(inferred))
		}
	default:
		return out, fmt.Errorf("unsupported Go type %s", t)
	}
	return out, nil
}

func run(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	decoder := json.NewDecoder(file)
	decoder.UseNumber()
	var cases caseFile
	if err := decoder.Decode(&cases); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := checkTypes(cases.Types); err != nil {
		return err
	}

	data := make(map[string]interface{}, len(cases.Data))
	for name, set := range cases.Data {
		t, err := parseType(set.Type)
		if err != nil {
			return fmt.Errorf("data set %s: %w", name, err)
		}
		value, err := convert(set.Value, t)
		if err != nil {
			return fmt.Errorf("data set %s: %w", name, err)
		}
		data[name] = value.Interface()
	}

	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	for _, c := range cases.Cases {
		input, ok := data[c.Data]
		if !ok {
			return fmt.Errorf("case %s: unknown data set %q", c.Name, c.Data)
		}
		r := result{Name: c.Name}
		tmpl, err := template.New("format").Parse(c.Template)
		if err == nil {
			var out bytes.Buffer
			err = tmpl.Execute(&out, input)
			if err == nil {
				output := out.String()
				r.Output = &output
			}
		}
		if err != nil {
			message := err.Error()
			r.Error = &message
		}
		if err := encoder.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: reference CASES.json")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "reference:", err)
		os.Exit(1)
	}
}
