package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// sandbox is a plain HTTP client of fastreg's sandbox control API (/sandbox/v1): what sets up the accounts and
// answers the phone confirmations that a person answers on WeChat.
type sandbox struct {
	base string
	key  string
	http *http.Client
}

func newSandbox(base, key string) *sandbox {
	return &sandbox{base: base, key: key, http: &http.Client{Timeout: 30 * time.Second}}
}

func (s *sandbox) call(method, path string, body any) (map[string]any, error) {
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(encoded)
	}
	request, err := http.NewRequest(method, s.base+"/sandbox/v1"+path, reader)
	if err != nil {
		return nil, err
	}
	request.Header.Set("X-Sandbox-Key", s.key)
	request.Header.Set("Content-Type", "application/json")
	response, err := s.http.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, err
	}
	if response.StatusCode >= 300 {
		return nil, fmt.Errorf("sandbox %s %s: HTTP %d %s", method, path, response.StatusCode, raw)
	}
	answer := map[string]any{}
	return answer, json.Unmarshal(raw, &answer)
}

// scan answers the confirmation whose URL a page's QR code encodes, as the person with this wxid.
func (s *sandbox) scan(confirmationURL, wxid string) (map[string]any, error) {
	return s.call("POST", "/scans", map[string]string{"url": confirmationURL, "wxid": wxid, "action": "confirm"})
}

var scanQR = regexp.MustCompile(`<img[^>]*id="scan-qr"[^>]*>`)
var confirmationAttribute = regexp.MustCompile(`data-confirmation-url="([^"]+)"`)

// confirmationURL fetches a page (componentloginpage, fastregisterauth) as a browser would and returns the URL
// its QR code encodes (img#scan-qr's data-confirmation-url).
func (s *sandbox) confirmationURL(page string) (string, error) {
	response, err := s.http.Get(page)
	if err != nil {
		return "", err
	}
	defer response.Body.Close()
	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return "", err
	}
	tag := scanQR.Find(raw)
	found := confirmationAttribute.FindSubmatch(tag)
	if found == nil {
		return "", fmt.Errorf("no img#scan-qr with a data-confirmation-url on %s (HTTP %d)", page, response.StatusCode)
	}
	return html.UnescapeString(string(found[1])), nil
}

func queryParam(raw, name string) (string, error) {
	parsed, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	value := parsed.Query().Get(name)
	if value == "" {
		return "", fmt.Errorf("no %s in %s", name, raw)
	}
	return value, nil
}

func text(answer map[string]any, key string) string {
	value, _ := answer[key].(string)
	return value
}
