// Generates expected.json from cases.txt with Go's own text/template.
//
// Run with any Go toolchain (Debian's golang-go is enough):
//
//	cd gotemplate/tests/golden && go run gen.go > expected.json
//
// cases.txt holds cases separated by header lines:
//
//	=== NAME | DATASET | MISSINGKEY | LEFT RIGHT
//
// followed by the template text (its last newline is not part of it). The
// datasets are built below, and mirrored in ../golden.rs.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type S struct {
	Name string
	Port int
	Tags []string
	Meta map[string]string
}

func datasets() map[string]interface{} {
	return map[string]interface{}{
		"nil": nil,
		"basic": map[string]interface{}{
			"Name":    "web",
			"Port":    80,
			"Float":   1.5,
			"Big":     1e6,
			"Neg":     -3,
			"U":       uint64(7),
			"True":    true,
			"False":   false,
			"Tags":    []string{"b", "a"},
			"Empty":   []string{},
			"Ints":    []int{3, 1, 2},
			"Mixed":   []interface{}{"x", 1, 2.5, nil, true},
			"Meta":    map[string]string{"env": "prod", "zone": "a"},
			"Any":     map[string]interface{}{"k": "v", "n": 1, "nested": map[string]interface{}{"x": 1}},
			"IntKeys": map[int]string{443: "https", 80: "http"},
			"Struct":  S{Name: "s", Port: 1, Tags: []string{"t"}},
			"Ptr":     &S{Name: "p", Port: 2, Meta: map[string]string{"a": "b"}},
			"Nil":     nil,
			"Str":     "hello, world",
			"Unicode": "héllo 🚀",
			"Html":    `<a href="x">'&'</a>`,
		},
		"list": []interface{}{"a", "b", "c"},
	}
}

type result struct {
	Name string `json:"name"`
	Out  string `json:"out"`
	Err  string `json:"err,omitempty"`
}

func main() {
	f, err := os.Open("cases.txt")
	if err != nil {
		panic(err)
	}
	type tc struct{ name, data, missing, left, right, text string }
	var cases []tc
	var cur *tc
	var body []string
	flush := func() {
		if cur != nil {
			cur.text = strings.Join(body, "\n")
			cases = append(cases, *cur)
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== ") {
			flush()
			parts := strings.Split(strings.TrimPrefix(line, "=== "), "|")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			c := tc{name: parts[0], data: parts[1], missing: parts[2]}
			if len(parts) > 3 {
				d := strings.Fields(parts[3])
				c.left, c.right = d[0], d[1]
			}
			cur = &c
			body = nil
			continue
		}
		body = append(body, line)
	}
	flush()
	funcs := template.FuncMap{
		"fail":  func() (string, error) { return "", errors.New("it failed") },
		"upper": strings.ToUpper,
		"list":  func(a ...interface{}) []interface{} { return a },
	}
	var out []result
	for _, c := range cases {
		r := result{Name: c.name}
		t, err := template.New(c.name).Delims(c.left, c.right).Funcs(funcs).Option("missingkey=" + c.missing).Parse(c.text)
		if err != nil {
			r.Err = err.Error()
		} else {
			var b bytes.Buffer
			err = t.Execute(&b, datasets()[c.data])
			r.Out = b.String()
			if err != nil {
				r.Err = err.Error()
			}
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
