// Generates expected.json from cases.txt with Go's text/template and the
// real Sprig 3.2.3 (as consul-template adds it: every function as sprig_NAME).
//
// Run in GOPATH mode against Debian's Go sources (golang-github-masterminds-sprig-dev):
//
//	cd ctfuncs/tests/sprig_golden && GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go > expected.json
//
// cases.txt holds cases separated by header lines:
//
//	=== NAME | DATASET
//
// followed by the template text (its last newline is not part of it). The
// datasets are built below, and mirrored in ../sprig_golden.rs. The local
// time zone is UTC for both (TZ=UTC), and SPRIG_GOLDEN is "from env".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig"
)

func datasets() map[string]interface{} {
	return map[string]interface{}{
		"nil": nil,
		"basic": map[string]interface{}{
			"Name":    "web",
			"Port":    80,
			"Float":   1.5,
			"U":       uint64(7),
			"True":    true,
			"Tags":    []string{"b", "a", "c"},
			"Empty":   []string{},
			"Ints":    []interface{}{3, 1, 2},
			"Mixed":   []interface{}{"x", 1, 2.5, nil, true, ""},
			"Meta":    map[string]string{"env": "prod", "zone": "a"},
			"Any":     map[string]interface{}{"k": "v", "n": 1, "nested": map[string]interface{}{"x": 1, "y": map[string]interface{}{"z": "deep"}}},
			"Nil":     nil,
			"Str":     "hello, world",
			"Unicode": "héllo wörld 🚀",
		},
	}
}

type result struct {
	Name string `json:"name"`
	Out  string `json:"out"`
	Err  string `json:"err,omitempty"`
}

func main() {
	os.Setenv("TZ", "UTC")
	os.Setenv("SPRIG_GOLDEN", "from env")
	os.Unsetenv("SPRIG_GOLDEN_UNSET")
	time.Local = time.UTC
	f, err := os.Open("cases.txt")
	if err != nil {
		panic(err)
	}
	type tc struct{ name, data, text string }
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
			cur = &tc{name: parts[0], data: parts[1]}
			body = nil
			continue
		}
		body = append(body, line)
	}
	flush()
	funcs := template.FuncMap{}
	for k, v := range sprig.TxtFuncMap() {
		funcs["sprig_"+k] = v
	}
	var out []result
	for _, c := range cases {
		r := result{Name: c.name}
		t, err := template.New(c.name).Funcs(funcs).Parse(c.text)
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
