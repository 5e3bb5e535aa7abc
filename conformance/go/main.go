// Conformance runner for silenceper/wechat v2 (unmodified): what a third-party platform written for WeChat does,
// against the fastreg at FASTREG_URL (sandbox key FASTREG_SANDBOX_KEY). The SDK's own host override,
// util.SetURIModifier, sends its https://api.weixin.qq.com calls to fastreg.
//
// Prints one JSON line with the SDK and its version, then one JSON line per call: {"call", "ok", "detail"}
// (conformance/README.md). Each check is written to what fidelity.md says WeChat does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/openplatform"
	opconfig "github.com/silenceper/wechat/v2/openplatform/config"
	"github.com/silenceper/wechat/v2/util"
)

const redirect = "https://tp.example.com/wechat/redirect"

var rid = regexp.MustCompile(` rid: \S+$`)

// fidelity.md §2 row 10: the keys of a wxamplinkget item (WxJava reads the old name func_info as well).
var linkItemKeys = []string{"appid", "copy_verify_status", "email", "func_info", "func_infos", "headimg_url",
	"nearby_display_status", "nickname", "released", "selected", "source", "status", "username"}

func emit(fields map[string]any) {
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

// call runs one step and prints its row; a panic (a nil from an earlier failed step) is a red row too.
func call(name string, step func() (string, error)) {
	detail, err := func() (detail string, err error) {
		defer func() {
			if recovered := recover(); recovered != nil {
				err = fmt.Errorf("panic: %v", recovered)
			}
		}()
		return step()
	}()
	if err != nil {
		emit(map[string]any{"call": name, "ok": false, "detail": err.Error()})
		return
	}
	emit(map[string]any{"call": name, "ok": true, "detail": detail})
}

func sdkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/silenceper/wechat/v2" {
				return dep.Version
			}
		}
	}
	return "?"
}

func main() {
	emit(map[string]any{"sdk": "silenceper", "version": sdkVersion(), "language": "Go"})
	base := strings.TrimRight(os.Getenv("FASTREG_URL"), "/")
	sb := newSandbox(base, os.Getenv("FASTREG_SANDBOX_KEY"))
	// The SDK's own host override: every util.HTTPGet/PostJSON goes to fastreg instead of WeChat's API host.
	util.SetURIModifier(func(uri string) string {
		return strings.Replace(uri, "https://api.weixin.qq.com", base, 1)
	})
	suffix := fmt.Sprint(time.Now().UnixNano())[10:]
	oa, err := sb.call("POST", "/official-accounts", map[string]any{
		"name": "silenceper 公众号 " + suffix, "principal_name": "silenceper 科技 " + suffix + " 有限公司",
		"principal_type": "enterprise"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	oaAppID, admin := text(oa, "appid"), text(oa, "admin_wxid")

	// The component's callback URL: every push goes to the SDK's own server (signature check, decryption).
	var op *openplatform.OpenPlatform
	tickets := make(chan string, 16)
	handlerErrors := make(chan string, 16)
	callback := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		server := op.GetServer(request, writer)
		server.SetMessageHandler(func(msg *message.MixMessage) *message.Reply {
			if msg.InfoType == message.InfoTypeVerifyTicket {
				tickets <- msg.ComponentVerifyTicket
			}
			return nil
		})
		if err := server.Serve(); err != nil {
			handlerErrors <- err.Error()
			writer.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(writer, "success")
	}))
	defer callback.Close()
	created, err := sb.call("POST", "/components", map[string]any{
		"name": "silenceper 平台 " + suffix, "redirect_domain": "tp.example.com", "callback_url": callback.URL + "/wechat/callback"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	componentAppID := text(created, "component_appid")
	op = openplatform.NewOpenPlatform(&opconfig.Config{
		AppID: componentAppID, AppSecret: text(created, "component_appsecret"), Token: text(created, "token"),
		EncodingAESKey: text(created, "encoding_aes_key"), Cache: cache.NewMemory(),
	})
	ctx := context.Background()
	var ticket, consentURL, redirectURL, refreshToken, fastTicket, mpAppID string
	var funcInfo []int

	call("push_verify_ticket", func() (string, error) {
		issued, err := sb.call("POST", "/components/"+componentAppID+"/verify-ticket", nil)
		if err != nil {
			return "", err
		}
		fresh := text(issued, "component_verify_ticket")
		deadline := time.After(10 * time.Second)
		var seen []string
		for {
			select {
			case got := <-tickets:
				if got == fresh {
					ticket = got
					return "server.Serve validated and decrypted the push", nil
				}
			case problem := <-handlerErrors:
				seen = append(seen, problem)
			case <-deadline:
				ticket = fresh // the next rows measure their own calls
				return "", fmt.Errorf("the SDK's push handler did not deliver the ticket; it said %v", seen)
			}
		}
	})
	call("component_token", func() (string, error) {
		answer, err := op.SetComponentAccessToken(ctx, ticket)
		if err != nil {
			return "", err
		}
		if answer.ExpiresIn != 7200 {
			return "", fmt.Errorf("expires_in %d", answer.ExpiresIn)
		}
		_, err = op.GetComponentAccessToken()
		return "SetComponentAccessToken(ticket), expires_in 7200", err
	})
	call("older_ticket_token", func() (string, error) {
		// fidelity row 3: a ticket issued within 12 h still works after a newer one (an SDK that missed a push).
		if _, err := op.SetComponentAccessToken(ctx, text(created, "component_verify_ticket")); err != nil {
			return "", err
		}
		return "SetComponentAccessToken with the ticket issued at creation", nil
	})
	call("pre_auth_code", func() (string, error) {
		page, err := op.GetComponentLoginPage(redirect, 3, oaAppID)
		consentURL = strings.Replace(page, "https://mp.weixin.qq.com", base, 1) // the browser goes to fastreg
		return "GetComponentLoginPage", err
	})
	call("authorization", func() (string, error) {
		confirmation, err := sb.confirmationURL(consentURL)
		if err != nil {
			return "", err
		}
		answered, err := sb.scan(confirmation, admin)
		if err != nil {
			return "", err
		}
		redirectURL = text(answered, "redirect_url")
		code, err := queryParam(redirectURL, "auth_code")
		if err != nil {
			return "", err
		}
		info, err := op.QueryAuthCode(code)
		if err != nil {
			return "", err
		}
		if info.Appid != oaAppID {
			return "", fmt.Errorf("authorizer_appid %s", info.Appid)
		}
		for _, f := range info.FuncInfo {
			funcInfo = append(funcInfo, f.FuncscopeCategory.ID)
		}
		refreshToken = info.RefreshToken
		return "consent page confirmed, QueryAuthCode", nil
	})
	call("authorization_shape", func() (string, error) {
		expires, err := queryParam(redirectURL, "expires_in")
		if err != nil || expires != "600" {
			return "", fmt.Errorf("redirect expires_in (fidelity row 15): %s", redirectURL)
		}
		for _, id := range funcInfo {
			if id == 27 {
				return "expires_in=600, func_info has set 27", nil
			}
		}
		return "", fmt.Errorf("permission set 27 not in func_info %v (fidelity row 1)", funcInfo)
	})
	call("authorizer_info", func() (string, error) {
		authorizer, authorization, err := op.GetAuthrInfo(oaAppID)
		if err != nil {
			return "", err
		}
		if authorizer == nil || authorization == nil {
			return "", errors.New("no authorizer_info or authorization_info")
		}
		if authorization.RefreshToken == "" {
			return "", errors.New("no authorization_info.authorizer_refresh_token (fidelity row 7)")
		}
		if authorizer.BasicConfig == nil {
			return "", errors.New("no authorizer_info.basic_config (fidelity row 7)")
		}
		return "GetAuthrInfo", nil
	})
	call("authorizer_token_refresh", func() (string, error) {
		token, err := op.RefreshAuthrToken(oaAppID, refreshToken)
		if err != nil {
			return "", err
		}
		if token.AccessToken == "" {
			return "", errors.New("no authorizer_access_token")
		}
		return "RefreshAuthrToken", nil
	})

	// silenceper has no method for account/fastregister and wxopen/wxamplinkget: its users call them with the
	// SDK's authorizer token and its own HTTP helper and error decoding, as here.
	type fastRegisterResult struct {
		util.CommonError
		AppID             string `json:"appid"`
		AuthorizationCode string `json:"authorization_code"`
		IsWxVerifySucc    string `json:"is_wx_verify_succ"`
		IsLinkSucc        string `json:"is_link_succ"`
	}
	fastRegister := func(ticket string) (*fastRegisterResult, error) {
		token, err := op.GetAuthrAccessToken(oaAppID)
		if err != nil {
			return nil, err
		}
		raw, err := util.PostJSON("https://api.weixin.qq.com/cgi-bin/account/fastregister?access_token="+token,
			map[string]string{"ticket": ticket})
		if err != nil {
			return nil, err
		}
		result := &fastRegisterResult{}
		return result, util.DecodeWithError(raw, result, "account/fastregister")
	}
	call("fastregister", func() (string, error) {
		page := base + "/cgi-bin/fastregisterauth?" + url.Values{"appid": {oaAppID}, "component_appid": {componentAppID},
			"copy_wx_verify": {"1"}, "redirect_uri": {redirect}}.Encode()
		confirmation, err := sb.confirmationURL(page)
		if err != nil {
			return "", err
		}
		answered, err := sb.scan(confirmation, admin)
		if err != nil {
			return "", err
		}
		if fastTicket, err = queryParam(text(answered, "redirect_url"), "ticket"); err != nil {
			return "", err
		}
		result, err := fastRegister(fastTicket)
		if err != nil {
			return "", err
		}
		if result.IsWxVerifySucc != "true" {
			return "", fmt.Errorf("is_wx_verify_succ %q", result.IsWxVerifySucc)
		}
		mp, err := op.QueryAuthCode(result.AuthorizationCode)
		if err != nil {
			return "", err
		}
		if mp.Appid != result.AppID {
			return "", fmt.Errorf("QueryAuthCode of the new MP gave %s", mp.Appid)
		}
		// QueryAuthCode caches nothing: silenceper's users put the MP's tokens into its cache by a refresh.
		if _, err := op.RefreshAuthrToken(result.AppID, mp.RefreshToken); err != nil {
			return "", err
		}
		mpAppID = result.AppID
		return "account/fastregister → " + mpAppID, nil
	})
	call("getaccountbasicinfo", func() (string, error) {
		if mpAppID == "" {
			return "", errors.New("no MP (fastregister failed)")
		}
		// GetMiniProgram(appid).GetBasic().GetAccountBasicInfo() looks the token up under basic.AppID, which is
		// the component's appid (the embedded context's), not the MP's: it cannot work against WeChat either.
		// Its users make the same GET with the MP's authorizer token and the SDK's HTTP helper.
		token, err := op.GetAuthrAccessToken(mpAppID)
		if err != nil {
			return "", err
		}
		raw, err := util.HTTPGet("https://api.weixin.qq.com/cgi-bin/account/getaccountbasicinfo?access_token=" + token)
		if err != nil {
			return "", err
		}
		var result struct {
			util.CommonError
			AppID          string `json:"appid"`
			PrincipalName  string `json:"principal_name"`
			RealnameStatus int    `json:"realname_status"`
			CustomerType   *int   `json:"customer_type"`
			WxVerifyInfo   struct {
				QualificationVerify bool `json:"qualification_verify"`
			} `json:"wx_verify_info"`
		}
		if err := util.DecodeWithError(raw, &result, "account/getaccountbasicinfo"); err != nil {
			return "", err
		}
		if result.AppID != mpAppID || result.RealnameStatus != 1 || !result.WxVerifyInfo.QualificationVerify {
			return "", fmt.Errorf("appid %s realname_status %d qualification_verify %v", result.AppID,
				result.RealnameStatus, result.WxVerifyInfo.QualificationVerify)
		}
		if result.CustomerType == nil {
			return "", errors.New("no customer_type (fidelity row 5)")
		}
		return "GET account/getaccountbasicinfo", nil
	})
	call("wxamplinkget", func() (string, error) {
		token, err := op.GetAuthrAccessToken(oaAppID)
		if err != nil {
			return "", err
		}
		raw, err := util.PostJSON("https://api.weixin.qq.com/cgi-bin/wxopen/wxamplinkget?access_token="+token, map[string]any{})
		if err != nil {
			return "", err
		}
		var result struct {
			util.CommonError
			WxOpens struct {
				Items []map[string]any `json:"items"`
			} `json:"wxopens"`
		}
		if err := util.DecodeWithError(raw, &result, "wxopen/wxamplinkget"); err != nil {
			return "", err
		}
		for _, item := range result.WxOpens.Items {
			if item["appid"] != mpAppID {
				continue
			}
			if status, _ := item["status"].(float64); status != 1 {
				return "", fmt.Errorf("status %v", item["status"])
			}
			keys := make([]string, 0, len(item))
			for key := range item {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != strings.Join(linkItemKeys, ",") {
				return "", fmt.Errorf("keys %v, want %v (fidelity row 10)", keys, linkItemKeys)
			}
			return "wxopens.items shape", nil
		}
		return "", fmt.Errorf("the new MP is not in %v", result.WxOpens.Items)
	})
	var refusal *util.CommonError
	call("refusal_errcode", func() (string, error) {
		_, err := fastRegister(fastTicket)
		if !errors.As(err, &refusal) {
			return "", fmt.Errorf("a used ticket gave %v, not a *util.CommonError", err)
		}
		if refusal.ErrCode != 61058 {
			return "", fmt.Errorf("errcode %d", refusal.ErrCode)
		}
		return "*util.CommonError 61058 for a used ticket", nil
	})
	call("refusal_errmsg", func() (string, error) {
		if refusal == nil {
			return "", errors.New("no refusal to read")
		}
		if !strings.HasPrefix(refusal.ErrMsg, "invalid ticket rid: ") || !rid.MatchString(refusal.ErrMsg) {
			return "", fmt.Errorf("%q", refusal.ErrMsg)
		}
		return fmt.Sprintf("%q", refusal.ErrMsg), nil
	})
	call("refusal_auth_code", func() (string, error) {
		// QueryAuthCode reports WeChat's refusal as a formatted error carrying the errcode.
		_, err := op.QueryAuthCode("not-a-code")
		if err == nil {
			return "", errors.New("an unknown authorization code was accepted")
		}
		if !strings.Contains(err.Error(), "errcode=61009 ") {
			return "", fmt.Errorf("%v (fidelity row 6)", err)
		}
		return err.Error(), nil
	})
}
