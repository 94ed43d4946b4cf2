package provider

// Golden vectors recorded from vault-csi-provider 1.7.4's behaviour (docs/csi-provider.md): the
// provider runs on a temporary socket, is called through the driver's v1alpha1 gRPC client, and
// talks to a stub Vault and a fake Kubernetes API over HTTP.

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

const (
	kv1Body   = `{"request_id":"r1","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"bar1":"hello1","b64":"aGVsbG8tc3luYzM=","hex":"68656c6c6f","num":5,"obj":{"z":1,"a":"x"}},"metadata":{"version":1}},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"kv"}`
	fooBody   = `{"request_id":"r2","lease_id":"","renewable":false,"lease_duration":0,"data":{"password":"p@ss","data":"plain"},"wrap_info":null,"warnings":null,"auth":null}`
	pkiBody   = `{"request_id":"r3","lease_id":"","renewable":false,"lease_duration":0,"data":{"certificate":"CERT","serial_number":"01"},"wrap_info":null,"warnings":["w1"],"auth":null}`
	hmacKey32 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// vaultCall is one request the stub Vault received.
type vaultCall struct {
	Method, Path, Query, Body, Token, Namespace string
}

func (c vaultCall) String() string {
	s := c.Method + " " + c.Path
	if c.Query != "" {
		s += "?" + c.Query
	}
	if c.Body != "" {
		s += " " + c.Body
	}
	return s
}

// stubVault answers as the vectors' Vault; tokens listed in refuse get 403 on reads.
type stubVault struct {
	*httptest.Server
	mu          sync.Mutex
	calls       []vaultCall
	tokens      []string // handed out by successive logins
	logins      int
	refuse      map[string]bool
	loginStatus int
}

func newStubVault(t *testing.T) *stubVault {
	v := &stubVault{tokens: []string{"s.tok", "s.tok2", "s.tok3"}, refuse: map[string]bool{}}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

func (v *stubVault) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, vaultCall{r.Method, r.URL.Path, r.URL.RawQuery, strings.TrimSpace(string(body)), r.Header.Get("X-Vault-Token"), r.Header.Get("X-Vault-Namespace")})
	if strings.HasSuffix(r.URL.Path, "/login") && r.Method == http.MethodPost {
		if v.loginStatus != 0 {
			w.WriteHeader(v.loginStatus)
			_, _ = io.WriteString(w, `{"errors":["service account name not authorized"]}`)
			return
		}
		token := v.tokens[v.logins]
		v.logins++
		_, _ = io.WriteString(w, `{"auth":{"client_token":"`+token+`"}}`)
		return
	}
	if v.refuse[r.Header.Get("X-Vault-Token")] {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":["permission denied"]}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/secret/data/kv1":
		_, _ = io.WriteString(w, kv1Body)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/kv1/foo":
		_, _ = io.WriteString(w, fooBody)
	case r.Method == http.MethodPut && r.URL.Path == "/v1/pki/issue/example":
		_, _ = io.WriteString(w, pkiBody)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[]}`)
	}
}

func (v *stubVault) take() []vaultCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	calls := v.calls
	v.calls = nil
	return calls
}

// fakeKube serves the HMAC key Secret (absent until created, unless preset) and TokenRequests.
type fakeKube struct {
	*httptest.Server
	mu             sync.Mutex
	hmacKey        []byte
	secretGets     int
	creates        int
	tokenAudiences [][]string
}

func newFakeKube(t *testing.T, key []byte) *fakeKube {
	k := &fakeKube{hmacKey: key}
	k.Server = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.Close)
	return k
}

func (k *fakeKube) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	const secret = "/api/v1/namespaces/csi/secrets"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == secret+"/vault-csi-provider-hmac-key":
		k.secretGets++
		if k.hmacKey == nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		data, _ := json.Marshal(map[string]interface{}{"kind": "Secret", "apiVersion": "v1", "metadata": map[string]string{"name": "vault-csi-provider-hmac-key"}, "data": map[string][]byte{"key": k.hmacKey}})
		_, _ = w.Write(data)
	case r.Method == http.MethodPost && r.URL.Path == secret:
		k.creates++
		var created struct {
			Immutable *bool             `json:"immutable"`
			Data      map[string][]byte `json:"data"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &created)
		if created.Immutable == nil || !*created.Immutable {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		k.hmacKey = created.Data["key"]
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token"):
		var req struct {
			Spec struct {
				Audiences []string `json:"audiences"`
			} `json:"spec"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		k.tokenAudiences = append(k.tokenAudiences, req.Spec.Audiences)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","status":{"token":"minted"}}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	}
}

// harness is a provider served on a temporary socket and a driver-side client for it.
type harness struct {
	client v1alpha1.CSIDriverProviderClient
	vault  *stubVault
	kube   *fakeKube
}

func startProvider(t *testing.T, key []byte, cacheSize int) *harness {
	t.Helper()
	vault, kube := newStubVault(t), newFakeKube(t, key)
	core, err := corev1client.NewForConfig(&rest.Config{Host: kube.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	p := New(core, Defaults{Address: vault.URL, AuthMount: "kubernetes"}, "csi", "vault-csi-provider-hmac-key", cacheSize)
	socket := filepath.Join(t.TempDir(), "vault.sock")
	lis, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	v1alpha1.RegisterCSIDriverProviderServer(server, &Server{Provider: p, RuntimeVersion: "test"})
	go func() { _ = server.Serve(lis) }()
	t.Cleanup(server.Stop)
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{client: v1alpha1.NewCSIDriverProviderClient(conn), vault: vault, kube: kube}
}

// attributes are what the driver sends for a pod `uid` with the given objects and extra parameters.
func attributes(t *testing.T, uid, objects string, extra map[string]string) string {
	a := map[string]string{
		"roleName":                                 "r",
		"objects":                                  objects,
		"secretProviderClass":                      "spc",
		"csi.storage.k8s.io/pod.name":              "nginx",
		"csi.storage.k8s.io/pod.uid":               uid,
		"csi.storage.k8s.io/pod.namespace":         "test",
		"csi.storage.k8s.io/serviceAccount.name":   "nginx-sa",
		"csi.storage.k8s.io/ephemeral":             "true",
		"csi.storage.k8s.io/serviceAccount.tokens": `{"vault":{"token":"jwt","expirationTimestamp":"2026-12-02T00:00:00Z"}}`,
	}
	for k, v := range extra {
		if v == "" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (h *harness) mount(t *testing.T, attrs string) (*v1alpha1.MountResponse, error) {
	t.Helper()
	return h.client.Mount(context.Background(), &v1alpha1.MountRequest{Attributes: attrs, Secrets: "null", TargetPath: "/var/lib/kubelet/pods/uid/volumes/x/mount", Permission: "420"})
}

const goldenObjects = `
- objectName: secret-1
  secretPath: secret/data/kv1
  secretKey: bar1
  filePermission: 0624
- objectName: whole
  secretPath: secret/data/kv1
- objectName: b64
  secretPath: /v1/secret/data/kv1
  secretKey: b64
  encoding: BASE64
- objectName: hex
  secretPath: v1/secret/data/kv1
  secretKey: hex
  encoding: hex
- objectName: num
  secretPath: secret/data/kv1
  secretKey: num
- objectName: obj
  secretPath: secret/data/kv1
  secretKey: obj
- objectName: kv1-pass
  secretPath: kv1/foo
  secretKey: password
- objectName: kv1-data
  secretPath: kv1/foo
  secretKey: data
- objectName: dir/cert
  secretPath: pki/issue/example?ttl=1h
  method: PUT
  secretArgs:
    common_name: a.example.com
    ttl: 24h
  secretKey: certificate
`

const wholeJSON = `{"request_id":"r1","lease_id":"","lease_duration":0,"renewable":false,"data":{"data":{"b64":"aGVsbG8tc3luYzM=","bar1":"hello1","hex":"68656c6c6f","num":5,"obj":{"a":"x","z":1}},"metadata":{"version":1}},"warnings":null,"mount_type":"kv"}`

type goldenFile struct {
	path     string
	mode     int32
	contents string
	version  string
}

var goldenFiles = []goldenFile{
	{"secret-1", 0o624, "hello1", "yB_OP6xXLzNrVvrQUc58DI58V9qSk39IP_vqj09uXGg="},
	{"whole", 0o644, wholeJSON, "9a8G_L2BpwQM__u7P12TL41pB1i-9bJzioXwzWwfcMM="},
	{"b64", 0o644, "hello-sync3", "9UUCuXe68ioBzOuKPMRGdDM-8XtvLAAyfEDFaxMmT-U="},
	{"hex", 0o644, "hello", "W1hUr7GslqkPhsfb5wvoDz-c8kFTzPpJoFY7XJklr6U="},
	{"num", 0o644, "5", "pKGHvazbnmqypF9o9VtLVMXtX7t60tZKoy-3k5FPkxA="},
	{"obj", 0o644, `{"a":"x","z":1}`, "M2gN4I9kIpAsBY-s2rnuGz91zM9u0QlPpqwQnABYQKE="},
	{"kv1-pass", 0o644, "p@ss", "_2Lj6yzYvt125S7BlyB8c3_kpbHWVDZq7_DemPJQiVo="},
	{"kv1-data", 0o644, "plain", "KblieMvpGD9P2yNFXDHrplmS-Ss8qH_UuIWj55YPssA="},
	{"dir/cert", 0o644, "CERT", "fwHaHNq_dbC5MWeSZuEk2na8bR6tcgoEsryb0-HdGzs="},
}

func TestGoldenVectorsFilesModesBytesVersionsAndVaultTraffic(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	resp, err := h.mount(t, attributes(t, "uid-1", goldenObjects, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Files) != len(goldenFiles) || len(resp.ObjectVersion) != len(goldenFiles) {
		t.Fatalf("got %d files and %d versions, want %d", len(resp.Files), len(resp.ObjectVersion), len(goldenFiles))
	}
	for i, want := range goldenFiles {
		f, v := resp.Files[i], resp.ObjectVersion[i]
		if f.Path != want.path || f.Mode != want.mode || string(f.Contents) != want.contents {
			t.Errorf("file %d: got %s %o %q, want %s %o %q", i, f.Path, f.Mode, f.Contents, want.path, want.mode, want.contents)
		}
		if v.Id != want.path || v.Version != want.version {
			t.Errorf("version %d: got %s %s, want %s %s", i, v.Id, v.Version, want.path, want.version)
		}
	}
	if resp.Error != nil {
		t.Errorf("MountResponse.Error is set: %v", resp.Error)
	}
	want := []string{
		`POST /v1/auth/kubernetes/login {"jwt":"jwt","role":"r"}`,
		`GET /v1/secret/data/kv1`,
		`GET /v1/secret/data/kv1`,
		`GET /v1/secret/data/kv1`,
		`GET /v1/kv1/foo`,
		`PUT /v1/pki/issue/example?ttl=1h {"common_name":"a.example.com","ttl":"24h"}`,
	}
	calls := h.vault.take()
	assertCalls(t, calls, want)
	for _, c := range calls[1:] {
		if c.Token != "s.tok" {
			t.Errorf("%s carried token %q, want s.tok", c, c.Token)
		}
	}
	if calls[0].Token != "" {
		t.Errorf("the first login carried a token")
	}
	if h.kube.secretGets != 1 || h.kube.creates != 0 {
		t.Errorf("HMAC key: %d GETs and %d creates, want 1 and 0", h.kube.secretGets, h.kube.creates)
	}
	if len(h.kube.tokenAudiences) != 0 {
		t.Errorf("requested %d tokens although the driver passed one", len(h.kube.tokenAudiences))
	}
}

func assertCalls(t *testing.T, calls []vaultCall, want []string) {
	t.Helper()
	var got []string
	for _, c := range calls {
		got = append(got, c.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Vault traffic:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const oneObject = `[{objectName: a, secretPath: secret/data/kv1, secretKey: bar1}]`

func TestVaultNamespaceIsAHeaderAndLeavesTheVersionAlone(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	resp, err := h.mount(t, attributes(t, "uid-1", oneObject, map[string]string{"vaultNamespace": "team-a"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.ObjectVersion[0].Version; got != "jJH_mQZ4L2wvgZvD4EEG6dPP10_bNSnEZAbl7sxalKg=" {
		t.Errorf("version %s", got)
	}
	for _, c := range h.vault.take() {
		if c.Namespace != "team-a" {
			t.Errorf("%s without X-Vault-Namespace: team-a", c)
		}
	}
}

func TestAuthMountPathNamesTheLoginPath(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	if _, err := h.mount(t, attributes(t, "uid-1", oneObject, map[string]string{"vaultAuthMountPath": "jwt"})); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, h.vault.take(), []string{`POST /v1/auth/jwt/login {"jwt":"jwt","role":"r"}`, `GET /v1/secret/data/kv1`})
}

func TestTokenIsReusedAcrossMountsOfOnePodAndNotShared(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	for i := 0; i < 3; i++ {
		resp, err := h.mount(t, attributes(t, "uid-1", oneObject, nil))
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Files[0].Contents) != "hello1" {
			t.Fatalf("mount %d: %q", i, resp.Files[0].Contents)
		}
	}
	if h.vault.logins != 1 {
		t.Errorf("three Mounts of one pod logged in %d times, want 1", h.vault.logins)
	}
	if _, err := h.mount(t, attributes(t, "uid-2", oneObject, nil)); err != nil {
		t.Fatal(err)
	}
	if h.vault.logins != 2 {
		t.Errorf("another pod reused a token: %d logins, want 2", h.vault.logins)
	}
	if h.kube.secretGets != 4 {
		t.Errorf("HMAC key read %d times for 4 Mounts, want once per Mount", h.kube.secretGets)
	}
}

func TestWithoutTheCacheEveryMountLogsIn(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 0)
	for i := 0; i < 2; i++ {
		if _, err := h.mount(t, attributes(t, "uid-1", oneObject, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if h.vault.logins != 2 {
		t.Errorf("cache-size 0: %d logins for two Mounts, want 2", h.vault.logins)
	}
}

func TestARefusedTokenLogsInOnceMoreAndRetries(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	if _, err := h.mount(t, attributes(t, "uid-1", oneObject, nil)); err != nil {
		t.Fatal(err)
	}
	h.vault.take()
	h.vault.mu.Lock()
	h.vault.refuse["s.tok"] = true
	h.vault.mu.Unlock()
	resp, err := h.mount(t, attributes(t, "uid-1", oneObject, nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Files[0].Contents) != "hello1" {
		t.Errorf("after re-login: %q", resp.Files[0].Contents)
	}
	calls := h.vault.take()
	assertCalls(t, calls, []string{`GET /v1/secret/data/kv1`, `POST /v1/auth/kubernetes/login {"jwt":"jwt","role":"r"}`, `GET /v1/secret/data/kv1`})
	if calls[0].Token != "s.tok" || calls[1].Token != "s.tok" || calls[2].Token != "s.tok2" {
		t.Errorf("tokens: read %q, re-login %q, retry %q; want s.tok, s.tok (the refused one is still set), s.tok2", calls[0].Token, calls[1].Token, calls[2].Token)
	}
}

func TestAFreshLoginThatIsRefusedIsNotRetried(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	h.vault.refuse["s.tok"] = true
	_, err := h.mount(t, attributes(t, "uid-1", oneObject, nil))
	if err == nil {
		t.Fatal("a read refused right after login succeeded")
	}
	if h.vault.logins != 1 {
		t.Errorf("%d logins, want 1", h.vault.logins)
	}
}

func mountError(t *testing.T, h *harness, objects string, extra map[string]string) string {
	t.Helper()
	_, err := h.mount(t, attributes(t, "uid-1", objects, extra))
	if err == nil {
		t.Fatalf("Mount of %s succeeded", objects)
	}
	st, _ := status.FromError(err)
	if st.Code().String() != "Unknown" {
		t.Errorf("gRPC code %s, want Unknown", st.Code())
	}
	return st.Message()
}

func TestErrorTexts(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	cases := []struct{ objects, want string }{
		{`[{objectName: a, secretPath: secret/data/kv1, secretKey: nope}]`, `error making mount request: {secret/data/kv1}: {key "nope" does not exist at the secret path}`},
		{`[{objectName: a, secretPath: secret/data/kv1, secretKey: bar1, encoding: rot13}]`, `error making mount request: {secret/data/kv1}: {invalid encoding type. Should be utf-8, base64, or hex}`},
		{`[{objectName: a, secretPath: secret/data/kv1, secretKey: bar1, encoding: base64}]`, `error making mount request: {secret/data/kv1}: {illegal base64 data at input byte 4}`},
		{`[{objectName: a, secretPath: secret/data/none}]`, "error making mount request: couldn't read secret \"a\": error requesting secret: Error making API request.\n\nURL: GET " + h.vault.URL + "/v1/secret/data/none\nCode: 404. Errors:\n\n"},
	}
	for _, c := range cases {
		if got := mountError(t, h, c.objects, nil); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.objects, got, c.want)
		}
	}
	h.vault.loginStatus = http.StatusForbidden
	got := mountError(t, h, oneObject, map[string]string{"csi.storage.k8s.io/pod.uid": "uid-other"})
	wantPrefix := "error making mount request: couldn't read secret \"a\": failed to login: Error making API request.\n\nURL: POST " + h.vault.URL + "/v1/auth/kubernetes/login\nCode: 403. Errors:\n\n* service account name not authorized"
	if got != wantPrefix {
		t.Errorf("login 403:\n got %q\nwant %q", got, wantPrefix)
	}
}

func TestParameterErrors(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	cases := []struct {
		objects string
		extra   map[string]string
		want    string
	}{
		{oneObject, map[string]string{"roleName": ""}, "missing 'roleName' in SecretProviderClass definition"},
		{`[]`, nil, "no secrets configured - the provider will not read any secret material"},
		{`[{objectName: a, secretPath: x}, {objectName: b, secretPath: x}, {objectName: a, secretPath: y}, {objectName: b, secretPath: y}]`, nil, "each `objectName` within a SecretProviderClass must be unique, but the following keys were duplicated: a, b"},
		{oneObject, map[string]string{"vaultKubernetesMountPath": "k", "vaultAuthMountPath": "j"}, "cannot set both vaultKubernetesMountPath and vaultAuthMountPath"},
		{oneObject, map[string]string{"vaultSkipTLSVerify": "yes"}, `strconv.ParseBool: parsing "yes": invalid syntax`},
		{`[{objectName: a, secretPath: x, filePermission: "0600"}]`, nil, "cannot unmarshal !!str `0600` into fs.FileMode"},
	}
	for _, c := range cases {
		if got := mountError(t, h, c.objects, c.extra); !strings.Contains(got, c.want) {
			t.Errorf("%s %v:\n got %q\nwant %q", c.objects, c.extra, got, c.want)
		}
	}
	if calls := h.vault.take(); len(calls) != 0 {
		t.Errorf("invalid parameters still reached Vault: %v", calls)
	}
}

func TestFilePermissionIsReadAsYAMLIntegers(t *testing.T) {
	for in, want := range map[string]os.FileMode{"0600": 0o600, "0o600": 0o600, "600": 600} {
		cfg, err := Parse(attributes(t, "u", `[{objectName: a, secretPath: x, filePermission: `+in+`}]`, nil), "/t", "420")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Parameters.Secrets[0].FilePermission; got != want {
			t.Errorf("filePermission %s → %o, want %o", in, got, want)
		}
	}
}

func TestWithoutADriverTokenThePodGetsOneForTheAudience(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	noTokens := map[string]string{"csi.storage.k8s.io/serviceAccount.tokens": ""}
	if _, err := h.mount(t, attributes(t, "uid-1", oneObject, noTokens)); err != nil {
		t.Fatal(err)
	}
	custom := map[string]string{"csi.storage.k8s.io/serviceAccount.tokens": "", "audience": "custom-audience"}
	if _, err := h.mount(t, attributes(t, "uid-2", oneObject, custom)); err != nil {
		t.Fatal(err)
	}
	got := h.kube.tokenAudiences
	if len(got) != 2 || len(got[0]) != 0 || len(got[1]) != 1 || got[1][0] != "custom-audience" {
		t.Errorf("TokenRequest audiences %v, want [] then [custom-audience]", got)
	}
	calls := h.vault.take()
	if calls[0].Body != `{"jwt":"minted","role":"r"}` {
		t.Errorf("login with %s", calls[0].Body)
	}
}

func TestTheHMACKeyIsCreatedOnceAndVersionsFollowIt(t *testing.T) {
	h := startProvider(t, nil, 1000)
	first, err := h.mount(t, attributes(t, "uid-1", oneObject, nil))
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.mount(t, attributes(t, "uid-2", oneObject, nil))
	if err != nil {
		t.Fatal(err)
	}
	if h.kube.creates != 1 || len(h.kube.hmacKey) != 32 {
		t.Fatalf("creates %d, key of %d bytes; want one create of 32 bytes", h.kube.creates, len(h.kube.hmacKey))
	}
	v1, v2 := first.ObjectVersion[0].Version, again.ObjectVersion[0].Version
	if v1 == "" || v1 != v2 {
		t.Errorf("versions across pods: %q then %q, want equal and non-empty", v1, v2)
	}
	h.kube.mu.Lock()
	h.kube.hmacKey = []byte("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	h.kube.mu.Unlock()
	changed, err := h.mount(t, attributes(t, "uid-3", oneObject, nil))
	if err != nil {
		t.Fatal(err)
	}
	if changed.ObjectVersion[0].Version == v1 {
		t.Errorf("a new HMAC key left the version at %s", v1)
	}
}

func TestMissingHMACKeyFieldStillMountsWithoutVersions(t *testing.T) {
	h := startProvider(t, []byte{}, 1000)
	resp, err := h.mount(t, attributes(t, "uid-1", oneObject, nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Files[0].Contents) != "hello1" || resp.ObjectVersion[0].Version != "" {
		t.Errorf("got %q with version %q, want hello1 with no version", resp.Files[0].Contents, resp.ObjectVersion[0].Version)
	}
}

func TestVersionNamesThisProviderNotUpstreams(t *testing.T) {
	h := startProvider(t, []byte(hmacKey32), 1000)
	v, err := h.client.Version(context.Background(), &v1alpha1.VersionRequest{Version: "v1alpha1"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "v1alpha1" || v.RuntimeName != RuntimeName || v.RuntimeVersion != "test" {
		t.Errorf("Version: %+v", v)
	}
}

func TestEnsureV1Prefix(t *testing.T) {
	for in, want := range map[string]string{"/v1/x": "/v1/x", "v1/x": "/v1/x", "/x": "/v1/x", "x": "/v1/x", "": "/v1/", "/v2/x": "/v1/v2/x"} {
		if got := ensureV1Prefix(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParallelMountsOfOnePodShareOneClient(t *testing.T) {
	c := newClientCache(10)
	p := Parameters{RoleName: "r", PodInfo: PodInfo{UID: "u"}}
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.get(p, func() (*Client, error) { return &Client{}, nil })
		}()
	}
	wg.Wait()
	if c.len() != 1 {
		t.Errorf("%d cache entries, want 1", c.len())
	}
}
