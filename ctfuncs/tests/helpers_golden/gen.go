// Test fixture, not product code: generates expected.json from cases.txt
// with Go's text/template and small re-implementations of consul-template's
// pure helper functions (template/funcs.go), written against Go's standard
// library and the libraries consul-template uses (yaml.v2, BurntSushi/toml,
// go-spew, go-sockaddr, mergo, x/text/cases), as found in GOPATH mode:
//
//	cd ctfuncs/tests/helpers_golden && GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go > expected.json
//
// Differences from consul-template, on purpose and mirrored in
// ../helpers_golden.rs: env reads only the fixed list below (not the
// process environment); timestamp reads a fixed clock; spew sorts map keys
// (Go's map order is random); sockaddr evaluates over the fixed interfaces
// below instead of the host's, with eth0 as the default route's interface
// (fixedHostFuncs: go-sockaddr's host-reading functions over that list).
//
// cases.txt holds cases separated by header lines `=== NAME | DATASET`,
// then the template text (its last newline is not part of it).
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/davecgh/go-spew/spew"
	sockaddr "github.com/hashicorp/go-sockaddr"
	socktmpl "github.com/hashicorp/go-sockaddr/template"
	"github.com/imdario/mergo"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

type KeyPair struct {
	Path        string
	Key         string
	Value       string
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Flags       uint64
	Session     string
}

type HealthService struct {
	Node        string
	Address     string
	ID          string
	Name        string
	Tags        []string
	ServiceMeta map[string]string
	Port        int
}

type CatalogService struct {
	ServiceName string
	ServiceTags []string
	ServicePort int
}

type CatalogSnippet struct {
	Name string
	Tags []string
}

var env = []string{"CLUSTER_ID=Prod-1", "EMPTY=", "HOME=/home/ct"}

var now = time.Unix(1257894000, 12345678).UTC()

var spewCfg = spew.ConfigState{Indent: " ", SortKeys: true}

func datasets() map[string]interface{} {
	return map[string]interface{}{
		"nil": nil,
		"kv": []*KeyPair{
			{Path: "config/", Key: "", Value: ""},
			{Path: "config/admin/port", Key: "admin/port", Value: "1134", CreateIndex: 7, ModifyIndex: 9},
			{Path: "config/maxconns", Key: "maxconns", Value: "5"},
			{Path: "config/minconns", Key: "minconns", Value: "2"},
			{Path: "config/nested/config/value", Key: "nested/config/value", Value: "x<&>y"},
			{Path: "config/groups/elasticsearch/es1", Key: "groups/elasticsearch/es1", Value: "1", Flags: 42},
			{Path: "config/groups/elasticsearch/es2", Key: "groups/elasticsearch/es2", Value: "1", Session: "s-1"},
		},
		"conflict": []*KeyPair{
			{Key: "a", Value: "x"},
			{Key: "a/b", Value: "y"},
		},
		"services": []*HealthService{
			{Node: "node1", Address: "10.0.0.1", ID: "redis-dev-1", Name: "redis", Tags: []string{"prod", "v1"}, ServiceMeta: map[string]string{"environment": "dev", "shard_number": "1"}, Port: 6379},
			{Node: "node2", Address: "10.0.0.2", ID: "redis-prod-1", Name: "redis", Tags: []string{"prod", "us-realm"}, ServiceMeta: map[string]string{"environment": "prod", "shard_number": "1"}, Port: 6380},
			{Node: "node3", Address: "10.0.0.3", ID: "redis-prod-2", Name: "redis", Tags: []string{"staging"}, ServiceMeta: map[string]string{"environment": "prod east", "shard_number": "12"}, Port: 6379},
			{Node: "node4", Address: "10.0.0.4", ID: "redis-x", Name: "redis", Tags: []string{}, ServiceMeta: map[string]string{}, Port: 6381},
		},
		"badmeta": []*HealthService{
			{ID: "a", ServiceMeta: map[string]string{"shard": "one"}},
		},
		"catalog": []*CatalogService{
			{ServiceName: "web", ServiceTags: []string{"a", "b"}, ServicePort: 80},
			{ServiceName: "api", ServiceTags: []string{"b"}, ServicePort: 8080},
			{ServiceName: "web2", ServiceTags: nil, ServicePort: 80},
		},
		"snippets": []*CatalogSnippet{
			{Name: "consul", Tags: []string{}},
			{Name: "web", Tags: []string{"http", "prod"}},
			{Name: "db", Tags: []string{"prod"}},
		},
		"data": map[string]interface{}{
			"Str":    "hello, world",
			"Int":    42,
			"Neg":    -7,
			"U":      uint64(7),
			"Float":  2.5,
			"True":   true,
			"List":   []interface{}{"a", 1, 2.5, true, nil},
			"Strs":   []string{"b", "a", "c"},
			"Ints":   []interface{}{1, 2, 3},
			"Floats": []interface{}{1.5, 2.0},
			"Map":    map[string]interface{}{"a": 1, "b": map[string]interface{}{"c": "d"}, "e": []interface{}{}},
			"SMap":   map[string]string{"x": "1", "y": "2"},
			"Empty":  map[string]interface{}{},
			"Nil":    nil,
			"Html":   `<a href="x">'&'</a>`,
			"Multi":  "line one\nline two\n",
		},
	}
}

func ifAddr(cidr, name string, index int, flags net.Flags, hw string) sockaddr.IfAddr {
	ip, err := sockaddr.NewIPAddr(cidr)
	if err != nil {
		panic(err)
	}
	mac, _ := net.ParseMAC(hw)
	return sockaddr.IfAddr{SockAddr: ip, Interface: net.Interface{Index: index, MTU: 1500, Name: name, HardwareAddr: mac, Flags: flags}}
}

var ifAddrs = sockaddr.IfAddrs{
	ifAddr("127.0.0.1/8", "lo", 1, net.FlagUp|net.FlagLoopback, ""),
	ifAddr("::1/128", "lo", 1, net.FlagUp|net.FlagLoopback, ""),
	ifAddr("10.0.1.5/24", "eth0", 2, net.FlagUp|net.FlagBroadcast|net.FlagMulticast, "02:42:ac:11:00:02"),
	ifAddr("192.168.7.9/16", "eth1", 3, net.FlagUp|net.FlagBroadcast|net.FlagMulticast, "02:42:ac:11:00:03"),
	ifAddr("203.0.113.20/28", "eth2", 4, net.FlagUp|net.FlagBroadcast, "02:42:ac:11:00:04"),
	ifAddr("fe80::42:acff:fe11:2/64", "eth0", 2, net.FlagUp|net.FlagBroadcast|net.FlagMulticast, "02:42:ac:11:00:02"),
	ifAddr("2001:db8::5/64", "eth0", 2, net.FlagUp|net.FlagBroadcast|net.FlagMulticast, "02:42:ac:11:00:02"),
	ifAddr("172.16.0.1/12", "docker0", 5, net.FlagBroadcast|net.FlagMulticast, "02:42:ac:11:00:05"),
}

// defaultIf is the fixed host's default-route interface.
const defaultIf = "eth0"

// ascIfDefault is go-sockaddr's AscIfDefault with the fixed default
// interface instead of the host's `ip route`.
func ascIfDefault(p1, p2 *sockaddr.IfAddr) int {
	switch {
	case p1.Name == defaultIf && p2.Name == defaultIf:
		return 0
	case p1.Name == defaultIf:
		return -1
	case p2.Name == defaultIf:
		return 1
	}
	return 0
}

// sortIfBy is go-sockaddr's SortIfBy with ascIfDefault.
func sortIfBy(param string, in sockaddr.IfAddrs) (sockaddr.IfAddrs, error) {
	out := append(sockaddr.IfAddrs(nil), in...)
	var cmps []sockaddr.CmpIfAddrFunc
	for _, c := range strings.Split(param, ",") {
		var f sockaddr.CmpIfAddrFunc
		switch strings.TrimSpace(strings.ToLower(c)) {
		case "+address", "address":
			f = sockaddr.AscIfAddress
		case "-address":
			f = sockaddr.DescIfAddress
		case "+default", "default":
			f = ascIfDefault
		case "-default":
			f = func(a, b *sockaddr.IfAddr) int { return -ascIfDefault(a, b) }
		case "+name", "name":
			f = sockaddr.AscIfName
		case "-name":
			f = sockaddr.DescIfName
		case "+port", "port":
			f = sockaddr.AscIfPort
		case "-port":
			f = sockaddr.DescIfPort
		case "+private", "private":
			f = sockaddr.AscIfPrivate
		case "-private":
			f = sockaddr.DescIfPrivate
		case "+size", "size":
			f = sockaddr.AscIfNetworkSize
		case "-size":
			f = sockaddr.DescIfNetworkSize
		case "+type", "type":
			f = sockaddr.AscIfType
		case "-type":
			f = sockaddr.DescIfType
		default:
			return sockaddr.IfAddrs{}, fmt.Errorf("unknown sort type: %q", c)
		}
		cmps = append(cmps, f)
	}
	sockaddr.OrderedIfAddrBy(cmps...).Sort(out)
	return out, nil
}

// fixedIfs is GetPrivateInterfaces (private) or GetPublicInterfaces over ifAddrs.
func fixedIfs(private bool) (sockaddr.IfAddrs, error) {
	ifs, _ := sockaddr.FilterIfByType(ifAddrs, sockaddr.TypeIP)
	ifs, _, _ = sockaddr.IfByFlag("forwardable", ifs)
	ifs, _, _ = sockaddr.IfByFlag("up", ifs)
	ifs, _ = sortIfBy("default,type,size", ifs)
	in, out, err := sockaddr.IfByRFC("6890", ifs)
	if private {
		return in, err
	}
	return out, err
}

func ipsOf(ifs sockaddr.IfAddrs) string {
	var s []string
	for _, i := range ifs {
		s = append(s, (*sockaddr.ToIPAddr(i.SockAddr)).NetIP().String())
	}
	return strings.Join(s, " ")
}

// fixedHostFuncs are go-sockaddr's functions that read the host, over
// ifAddrs with defaultIf as the default route's interface.
func fixedHostFuncs() template.FuncMap {
	first := func(ifs sockaddr.IfAddrs, err error) (string, error) {
		if err != nil || len(ifs) == 0 {
			return "", err
		}
		return (*sockaddr.ToIPAddr(ifs[0].SockAddr)).NetIP().String(), nil
	}
	sorted := func() sockaddr.IfAddrs {
		ifs, _ := sockaddr.FilterIfByType(ifAddrs, sockaddr.TypeIP)
		sockaddr.OrderedIfAddrBy(sockaddr.AscIfType, sockaddr.AscIfNetworkSize).Sort(ifs)
		return ifs
	}
	byName := func(re string, forwardable bool) (sockaddr.IfAddrs, error) {
		ifs, _, err := sockaddr.IfByName(re, ifAddrs)
		if err != nil {
			return nil, err
		}
		if forwardable {
			ifs, _, _ = sockaddr.IfByFlag("forwardable", ifs)
		}
		return sockaddr.SortIfBy("+type,+size", ifs)
	}
	return template.FuncMap{
		"GetAllInterfaces": func() (sockaddr.IfAddrs, error) { return ifAddrs, nil },
		"GetDefaultInterfaces": func() (sockaddr.IfAddrs, error) {
			var out sockaddr.IfAddrs
			for _, i := range ifAddrs {
				if i.Name == defaultIf {
					out = append(out, i)
				}
			}
			return out, nil
		},
		"GetPrivateInterfaces": func() (sockaddr.IfAddrs, error) { return fixedIfs(true) },
		"GetPublicInterfaces":  func() (sockaddr.IfAddrs, error) { return fixedIfs(false) },
		"GetPrivateIP":         func() (string, error) { return first(fixedIfs(true)) },
		"GetPublicIP":          func() (string, error) { return first(fixedIfs(false)) },
		"GetPrivateIPs": func() (string, error) {
			in, _, _ := sockaddr.IfByRFC("6890", sorted())
			_, fwd, _ := sockaddr.IfByRFC(sockaddr.ForwardingBlacklistRFC, in)
			return ipsOf(fwd), nil
		},
		"GetPublicIPs": func() (string, error) {
			_, out, _ := sockaddr.IfByRFC("6890", sorted())
			return ipsOf(out), nil
		},
		"GetInterfaceIP": func(re string) (string, error) {
			ifs, err := byName(re, true)
			if err != nil || len(ifs) == 0 {
				return "", err
			}
			return sockaddr.IPAddrAttr(*sockaddr.ToIPAddr(ifs[0].SockAddr), "address"), nil
		},
		"GetInterfaceIPs": func(re string) (string, error) {
			ifs, err := byName(re, false)
			return ipsOf(ifs), err
		},
		"sort": sortIfBy,
	}
}

func lookupEnv(s string) (string, bool) {
	for _, e := range env {
		kv := strings.SplitN(e, "=", 2)
		if kv[0] == s {
			return kv[1], true
		}
	}
	return "", false
}

type Scratch struct{ values map[string]interface{} }

func (s *Scratch) init() {
	if s.values == nil {
		s.values = map[string]interface{}{}
	}
}
func (s *Scratch) Key(k string) bool             { _, ok := s.values[k]; return ok }
func (s *Scratch) Get(k string) interface{}      { return s.values[k] }
func (s *Scratch) Set(k string, v interface{}) string { s.init(); s.values[k] = v; return "" }
func (s *Scratch) SetX(k string, v interface{}) string {
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = v
	}
	return ""
}
func (s *Scratch) mapSet(k, mk string, v interface{}, o bool) (string, error) {
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = map[string]interface{}{}
	}
	m, ok := s.values[k].(map[string]interface{})
	if !ok {
		return "", fmt.Errorf("%q is not a map", k)
	}
	if _, ok := m[mk]; o || !ok {
		m[mk] = v
	}
	return "", nil
}
func (s *Scratch) MapSet(k, mk string, v interface{}) (string, error)  { return s.mapSet(k, mk, v, true) }
func (s *Scratch) MapSetX(k, mk string, v interface{}) (string, error) { return s.mapSet(k, mk, v, false) }
func (s *Scratch) MapValues(k string) ([]interface{}, error) {
	m, ok := s.values[k].(map[string]interface{})
	if !ok {
		return nil, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]interface{}, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out, nil
}

func in(l, v interface{}) (bool, error) {
	lv, vv := reflect.ValueOf(l), reflect.ValueOf(v)
	switch lv.Kind() {
	case reflect.Array, reflect.Slice:
		var is []interface{}
		if reflect.TypeOf(l).Elem().Kind() == reflect.Interface {
			is = l.([]interface{})
		}
		for i := 0; i < lv.Len(); i++ {
			var lvv reflect.Value
			if is != nil {
				lvv = reflect.ValueOf(is[i])
			} else {
				lvv = lv.Index(i)
			}
			switch lvv.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				switch vv.Kind() {
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					if vv.Int() == lvv.Int() {
						return true, nil
					}
				}
			case reflect.Float32, reflect.Float64:
				switch vv.Kind() {
				case reflect.Float32, reflect.Float64:
					if vv.Float() == lvv.Float() {
						return true, nil
					}
				}
			case reflect.String:
				if vv.Type() == lvv.Type() && vv.String() == lvv.String() {
					return true, nil
				}
			}
		}
	case reflect.String:
		if vv.Type() == lv.Type() && strings.Contains(lv.String(), vv.String()) {
			return true, nil
		}
	}
	return false, nil
}

func containsSome(retTrue, invert bool) func([]interface{}, interface{}) (bool, error) {
	return func(v []interface{}, l interface{}) (bool, error) {
		for i := 0; i < len(v); i++ {
			if ok, _ := in(l, v[i]); ok != invert {
				return !retTrue, nil
			}
		}
		return retTrue, nil
	}
}

func explodeHelper(m map[string]interface{}, k string, v interface{}, p string) error {
	if strings.Contains(k, "/") {
		parts := strings.Split(k, "/")
		top := parts[0]
		key := strings.Join(parts[1:], "/")
		if _, ok := m[top]; !ok {
			m[top] = make(map[string]interface{})
		}
		nest, ok := m[top].(map[string]interface{})
		if !ok {
			return fmt.Errorf("not a map: %q: %q already has value %q", p, top, m[top])
		}
		return explodeHelper(nest, key, v, k)
	}
	if k != "" {
		m[k] = v
	}
	return nil
}

// math: consul-template's (b, a) order and promotion, through float64,
// int64 and uint64 kinds.
func kind(v interface{}) byte {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return 'i'
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 'u'
	case reflect.Float32, reflect.Float64:
		return 'f'
	}
	return 0
}

func mathFunc(name string, op func(ka, kb byte, a, b reflect.Value) (interface{}, error)) func(b, a interface{}) (interface{}, error) {
	return func(b, a interface{}) (interface{}, error) {
		ka, kb := kind(a), kind(b)
		if ka == 0 || (name == "modulo" && ka == 'f') {
			return nil, fmt.Errorf("%s: unknown type for %q (%T)", name, reflect.ValueOf(a), a)
		}
		if kb == 0 || (name == "modulo" && kb == 'f') {
			return nil, fmt.Errorf("%s: unknown type for %q (%T)", name, reflect.ValueOf(b), b)
		}
		return op(ka, kb, reflect.ValueOf(a), reflect.ValueOf(b))
	}
}

func arith(name string, fi func(a, b int64) int64, fu func(a, b uint64) uint64, ff func(a, b float64) float64) func(b, a interface{}) (interface{}, error) {
	return mathFunc(name, func(ka, kb byte, av, bv reflect.Value) (interface{}, error) {
		switch {
		case ka == 'i' && kb == 'i':
			return fi(av.Int(), bv.Int()), nil
		case ka == 'i' && kb == 'u':
			return fi(av.Int(), int64(bv.Uint())), nil
		case ka == 'u' && kb == 'i':
			return fi(int64(av.Uint()), bv.Int()), nil
		case ka == 'u' && kb == 'u':
			return fu(av.Uint(), bv.Uint()), nil
		}
		f := func(k byte, v reflect.Value) float64 {
			switch k {
			case 'i':
				return float64(v.Int())
			case 'u':
				return float64(v.Uint())
			}
			return v.Float()
		}
		return ff(f(ka, av), f(kb, bv)), nil
	})
}

func minmax(name string, less bool) func(b, a interface{}) (interface{}, error) {
	return mathFunc(name, func(ka, kb byte, av, bv reflect.Value) (interface{}, error) {
		val := func(k byte, v reflect.Value) interface{} {
			switch k {
			case 'i':
				return v.Int()
			case 'u':
				return v.Uint()
			}
			return v.Float()
		}
		var aWins bool
		switch {
		case ka == 'i' && kb == 'i':
			aWins = (av.Int() < bv.Int()) == less && av.Int() != bv.Int()
		case ka == 'u' && kb == 'u':
			aWins = (av.Uint() < bv.Uint()) == less && av.Uint() != bv.Uint()
		case ka == 'i' && kb == 'u':
			aWins = (av.Int() < int64(bv.Uint())) == less && av.Int() != int64(bv.Uint())
		case ka == 'u' && kb == 'i':
			aWins = (int64(av.Uint()) < bv.Int()) == less && int64(av.Uint()) != bv.Int()
		default:
			f := func(k byte, v reflect.Value) float64 {
				switch k {
				case 'i':
					return float64(v.Int())
				case 'u':
					return float64(v.Uint())
				}
				return v.Float()
			}
			x, y := f(ka, av), f(kb, bv)
			aWins = (x < y) == less && x != y
		}
		if aWins {
			return val(ka, av), nil
		}
		return val(kb, bv), nil
	})
}

func funcMap(t *template.Template) template.FuncMap {
	var scratch Scratch
	return template.FuncMap{
		"scratch": func() *Scratch { return &scratch },
		"env": func(s string) (string, error) { v, _ := lookupEnv(s); return v, nil },
		"mustEnv": func(s string) (string, error) {
			if v, _ := lookupEnv(s); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("required environment variable %s is empty", s)
		},
		"envOrDefault": func(s, def string) (string, error) {
			if v, ok := lookupEnv(s); ok {
				return v, nil
			}
			return def, nil
		},
		"executeTemplate": func(s string, data ...interface{}) (string, error) {
			var dot interface{}
			switch len(data) {
			case 0:
			case 1:
				dot = data[0]
			default:
				return "", fmt.Errorf("executeTemplate: wrong number of arguments, expected 1 or 2, but got %d", len(data)+1)
			}
			var b bytes.Buffer
			if err := t.ExecuteTemplate(&b, s, dot); err != nil {
				return "", err
			}
			return b.String(), nil
		},
		"base64Decode": func(s string) (string, error) {
			v, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return "", fmt.Errorf("base64Decode: %s", err)
			}
			return string(v), nil
		},
		"base64Encode": func(s string) (string, error) { return base64.StdEncoding.EncodeToString([]byte(s)), nil },
		"base64URLDecode": func(s string) (string, error) {
			v, err := base64.URLEncoding.DecodeString(s)
			if err != nil {
				return "", fmt.Errorf("base64URLDecode: %s", err)
			}
			return string(v), nil
		},
		"base64URLEncode": func(s string) (string, error) { return base64.URLEncoding.EncodeToString([]byte(s)), nil },
		"byKey": func(pairs []*KeyPair) (map[string]map[string]*KeyPair, error) {
			m := make(map[string]map[string]*KeyPair)
			for _, pair := range pairs {
				parts := strings.Split(pair.Key, "/")
				top, key := parts[0], strings.Join(parts[1:], "/")
				if key == "" {
					continue
				}
				if _, ok := m[top]; !ok {
					m[top] = make(map[string]*KeyPair)
				}
				np := *pair
				np.Key = key
				m[top][key] = &np
			}
			return m, nil
		},
		"byPort": func(in interface{}) (map[int][]interface{}, error) {
			m := make(map[int][]interface{})
			switch typed := in.(type) {
			case nil:
			case []*CatalogService:
				for _, s := range typed {
					m[s.ServicePort] = append(m[s.ServicePort], s)
				}
			case []*HealthService:
				for _, s := range typed {
					m[s.Port] = append(m[s.Port], s)
				}
			default:
				return nil, fmt.Errorf("byPort: wrong argument type %T", in)
			}
			return m, nil
		},
		"byTag": func(in interface{}) (map[string][]interface{}, error) {
			m := make(map[string][]interface{})
			switch typed := in.(type) {
			case nil:
			case []*CatalogSnippet:
				for _, s := range typed {
					for _, t := range s.Tags {
						m[t] = append(m[t], s)
					}
				}
			case []*CatalogService:
				for _, s := range typed {
					for _, t := range s.ServiceTags {
						m[t] = append(m[t], s)
					}
				}
			case []*HealthService:
				for _, s := range typed {
					for _, t := range s.Tags {
						m[t] = append(m[t], s)
					}
				}
			default:
				return nil, fmt.Errorf("byTag: wrong argument type %T", in)
			}
			return m, nil
		},
		"byMeta": func(meta string, services []*HealthService) (map[string][]*HealthService, error) {
			re := regexp.MustCompile("[^a-zA-Z0-9_-]")
			get := func(m map[string]string, key string) string {
				real := strings.TrimSuffix(key, "|int")
				if v := m[real]; v != "" {
					return v
				}
				if strings.HasSuffix(key, "|int") {
					return "0"
				}
				return fmt.Sprintf("_no_%s_", real)
			}
			groups := make(map[string][]*HealthService)
			for _, s := range services {
				var parts []string
				for _, k := range strings.Split(meta, ",") {
					v := get(s.ServiceMeta, k)
					if strings.HasSuffix(k, "|int") {
						i, err := strconv.Atoi(v)
						if err != nil {
							return nil, fmt.Errorf("cannot parse %v as number : %s", v, err)
						}
						v = fmt.Sprintf("%05d", i)
					}
					parts = append(parts, re.ReplaceAllString(v, "_"))
				}
				key := strings.Join(parts, "_")
				groups[key] = append(groups[key], s)
			}
			return groups, nil
		},
		"contains":       func(v, l interface{}) (bool, error) { return in(l, v) },
		"containsAll":    containsSome(true, true),
		"containsAny":    containsSome(false, false),
		"containsNone":   containsSome(true, false),
		"containsNotAll": containsSome(false, true),
		"in":             in,
		"explode": func(pairs []*KeyPair) (map[string]interface{}, error) {
			m := make(map[string]interface{})
			for _, p := range pairs {
				if err := explodeHelper(m, p.Key, p.Value, p.Key); err != nil {
					return nil, fmt.Errorf("explode: %s", err)
				}
			}
			return m, nil
		},
		"explodeMap": func(in map[string]interface{}) (map[string]interface{}, error) {
			out := make(map[string]interface{})
			var keys []string
			for k := range in {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if err := explodeHelper(out, k, in[k], k); err != nil {
					return nil, fmt.Errorf("explodeMap: %s", err)
				}
			}
			return out, nil
		},
		"mergeMap": func(dst, src map[string]interface{}) (map[string]interface{}, error) {
			if err := mergo.Map(&dst, src); err != nil {
				return nil, err
			}
			return dst, nil
		},
		"mergeMapWithOverride": func(dst, src map[string]interface{}) (map[string]interface{}, error) {
			if err := mergo.Map(&dst, src, mergo.WithOverride); err != nil {
				return nil, err
			}
			return dst, nil
		},
		"indent": func(n int, s string) (string, error) {
			if n < 0 {
				return "", fmt.Errorf("indent value must be a positive integer")
			}
			var out []byte
			sp := true
			for _, c := range []byte(s) {
				if sp && c != '\n' {
					out = append(out, strings.Repeat(" ", n)...)
				}
				out = append(out, c)
				sp = c == '\n'
			}
			return string(out), nil
		},
		"loop": func(ifaces ...interface{}) ([]int64, error) {
			to64 := func(i interface{}) (int64, error) {
				v := reflect.ValueOf(i)
				switch v.Kind() {
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					return v.Int(), nil
				case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
					return int64(v.Uint()), nil
				case reflect.String:
					if v.String() == "" {
						return 0, nil
					}
					r, err := strconv.ParseInt(v.String(), 10, 64)
					if err != nil {
						return 0, fmt.Errorf("parseInt: %s", err)
					}
					return r, nil
				}
				return 0, fmt.Errorf("loop: bad argument type: %T", i)
			}
			var i1, i2 interface{}
			switch len(ifaces) {
			case 1:
				i1, i2 = 0, ifaces[0]
			case 2:
				i1, i2 = ifaces[0], ifaces[1]
			default:
				return nil, fmt.Errorf("loop: wrong number of arguments, expected 1 or 2, but got %d", len(ifaces))
			}
			start, err := to64(i1)
			if err != nil {
				return nil, err
			}
			stop, err := to64(i2)
			if err != nil {
				return nil, err
			}
			var out []int64
			for i := start; i < stop; i++ {
				out = append(out, i)
			}
			return out, nil
		},
		"join":       func(sep string, a []string) (string, error) { return strings.Join(a, sep), nil },
		"trim":       func(cutset, s string) (string, error) { return strings.Trim(s, cutset), nil },
		"trimPrefix": func(p, s string) (string, error) { return strings.TrimPrefix(s, p), nil },
		"trimSuffix": func(p, s string) (string, error) { return strings.TrimSuffix(s, p), nil },
		"trimSpace":  func(s string) (string, error) { return strings.TrimSpace(s), nil },
		"parseBool": func(s string) (bool, error) {
			if s == "" {
				return false, nil
			}
			r, err := strconv.ParseBool(s)
			if err != nil {
				return false, fmt.Errorf("parseBool: %s", err)
			}
			return r, nil
		},
		"parseFloat": func(s string) (float64, error) {
			if s == "" {
				return 0, nil
			}
			r, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("parseFloat: %s", err)
			}
			return r, nil
		},
		"parseInt": func(s string) (int64, error) {
			if s == "" {
				return 0, nil
			}
			r, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parseInt: %s", err)
			}
			return r, nil
		},
		"parseUint": func(s string) (uint64, error) {
			if s == "" {
				return 0, nil
			}
			r, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parseUint: %s", err)
			}
			return r, nil
		},
		"parseJSON": func(s string) (interface{}, error) {
			if s == "" {
				return map[string]interface{}{}, nil
			}
			var data interface{}
			if err := json.Unmarshal([]byte(s), &data); err != nil {
				return nil, err
			}
			return data, nil
		},
		"parseYAML": func(s string) (interface{}, error) {
			if s == "" {
				return map[string]interface{}{}, nil
			}
			var data interface{}
			if err := yaml.Unmarshal([]byte(s), &data); err != nil {
				return nil, err
			}
			return data, nil
		},
		"regexReplaceAll": func(re, pl, s string) (string, error) {
			c, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return c.ReplaceAllString(s, pl), nil
		},
		"regexMatch": func(re, s string) (bool, error) {
			c, err := regexp.Compile(re)
			if err != nil {
				return false, err
			}
			return c.MatchString(s), nil
		},
		"replaceAll": func(f, t, s string) (string, error) { return strings.Replace(s, f, t, -1), nil },
		"sha256Hex": func(s string) (string, error) {
			h := sha256.Sum256([]byte(s))
			return hex.EncodeToString(h[:]), nil
		},
		"md5sum": func(s string) (string, error) { return fmt.Sprintf("%x", md5.Sum([]byte(s))), nil },
		"hmacSHA256Hex": func(msg, key string) (string, error) {
			h := hmac.New(sha256.New, []byte(key))
			h.Write([]byte(msg))
			return hex.EncodeToString(h.Sum(nil)), nil
		},
		"split": func(sep, s string) ([]string, error) {
			s = strings.TrimSpace(s)
			if s == "" {
				return []string{}, nil
			}
			return strings.Split(s, sep), nil
		},
		"splitToMap": func(sep1, sep2, s string) (map[string]string, error) {
			s = strings.TrimSpace(s)
			m := map[string]string{}
			if s == "" {
				return m, nil
			}
			for _, item := range strings.Split(s, sep1) {
				if k, v, ok := strings.Cut(item, sep2); ok {
					m[k] = v
				}
			}
			return m, nil
		},
		"timestamp": func(s ...string) (string, error) {
			switch len(s) {
			case 0:
				return now.Format(time.RFC3339), nil
			case 1:
				if s[0] == "unix" {
					return strconv.FormatInt(now.Unix(), 10), nil
				}
				return now.Format(s[0]), nil
			}
			return "", fmt.Errorf("timestamp: wrong number of arguments, expected 0 or 1, but got %d", len(s))
		},
		"toLower": func(s string) (string, error) { return strings.ToLower(s), nil },
		"toUpper": func(s string) (string, error) { return strings.ToUpper(s), nil },
		"toTitle": func(s string) (string, error) { return cases.Title(language.Und, cases.NoLower).String(s), nil },
		"toJSON": func(i interface{}) (string, error) {
			r, err := json.Marshal(i)
			if err != nil {
				return "", fmt.Errorf("toJSON: %s", err)
			}
			return string(bytes.TrimSpace(r)), nil
		},
		"toJSONPretty": func(i interface{}) (string, error) {
			r, err := json.MarshalIndent(i, "", "  ")
			if err != nil {
				return "", fmt.Errorf("toJSONPretty: %s", err)
			}
			return string(bytes.TrimSpace(r)), nil
		},
		"toUnescapedJSON": func(i interface{}) (string, error) {
			b := &bytes.Buffer{}
			e := json.NewEncoder(b)
			e.SetEscapeHTML(false)
			if err := e.Encode(i); err != nil {
				return "", fmt.Errorf("toUnescapedJSON: %s", err)
			}
			return strings.TrimRight(b.String(), "\r\n"), nil
		},
		"toUnescapedJSONPretty": func(i interface{}) (string, error) {
			b := &bytes.Buffer{}
			e := json.NewEncoder(b)
			e.SetEscapeHTML(false)
			e.SetIndent("", "  ")
			if err := e.Encode(i); err != nil {
				return "", fmt.Errorf("toUnescapedJSONPretty: %s", err)
			}
			return strings.TrimRight(b.String(), "\r\n"), nil
		},
		"toYAML": func(i interface{}) (string, error) {
			r, err := yaml.Marshal(i)
			if err != nil {
				return "", fmt.Errorf("toYAML: %s", err)
			}
			return string(bytes.TrimSpace(r)), nil
		},
		"toTOML": func(i interface{}) (string, error) {
			b := &bytes.Buffer{}
			if err := toml.NewEncoder(b).Encode(i); err != nil {
				return "", fmt.Errorf("toTOML: %s", err)
			}
			return string(bytes.TrimSpace(b.Bytes())), nil
		},
		"sockaddr": func(args ...string) (string, error) {
			in := fmt.Sprintf("{{ %s }}", strings.Join(args, " "))
			t := template.New("sockaddr.Parse").Option("missingkey=error").
				Funcs(socktmpl.SourceFuncs).Funcs(socktmpl.SortFuncs).
				Funcs(socktmpl.FilterFuncs).Funcs(socktmpl.HelperFuncs).
				Funcs(fixedHostFuncs())
			t, err := t.Parse(in)
			if err != nil {
				return "", fmt.Errorf("unable to parse template %+q: %s", in, err)
			}
			var b bytes.Buffer
			if err := t.Execute(&b, ifAddrs); err != nil {
				return "", fmt.Errorf("unable to execute sockaddr input %+q: %s", in, err)
			}
			return b.String(), nil
		},
		"add":      arith("add", func(a, b int64) int64 { return a + b }, func(a, b uint64) uint64 { return a + b }, func(a, b float64) float64 { return a + b }),
		"subtract": arith("subtract", func(a, b int64) int64 { return a - b }, func(a, b uint64) uint64 { return a - b }, func(a, b float64) float64 { return a - b }),
		"multiply": arith("multiply", func(a, b int64) int64 { return a * b }, func(a, b uint64) uint64 { return a * b }, func(a, b float64) float64 { return a * b }),
		"divide":   arith("divide", func(a, b int64) int64 { return a / b }, func(a, b uint64) uint64 { return a / b }, func(a, b float64) float64 { return a / b }),
		"modulo":   arith("modulo", func(a, b int64) int64 { return a % b }, func(a, b uint64) uint64 { return a % b }, nil),
		"minimum":  minmax("minimum", true),
		"maximum":  minmax("maximum", false),
		"spew_sdump":   func(args ...interface{}) (string, error) { return spewCfg.Sdump(args...), nil },
		"spew_sprintf": func(f string, args ...interface{}) (string, error) { return spewCfg.Sprintf(f, args...), nil },
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
			cur = &tc{name: strings.TrimSpace(parts[0]), data: strings.TrimSpace(parts[1])}
			body = nil
			continue
		}
		body = append(body, line)
	}
	flush()
	var out []result
	for _, c := range cases {
		r := result{Name: c.name}
		t := template.New(c.name)
		t, err := t.Funcs(funcMap(t)).Option("missingkey=zero").Parse(c.text)
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
		fmt.Fprintln(os.Stderr, errors.New("encode: "+err.Error()))
		os.Exit(1)
	}
}
