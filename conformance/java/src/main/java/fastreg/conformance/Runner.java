package fastreg.conformance;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.common.util.http.RequestExecutor;
import me.chanjar.weixin.mp.config.WxMpConfigStorage;
import me.chanjar.weixin.open.api.WxOpenComponentService;
import me.chanjar.weixin.open.api.impl.WxOpenInMemoryConfigStorage;
import me.chanjar.weixin.open.api.impl.WxOpenMpServiceImpl;
import me.chanjar.weixin.open.api.impl.WxOpenServiceImpl;
import me.chanjar.weixin.open.bean.auth.WxOpenAuthorizationInfo;
import me.chanjar.weixin.open.bean.mp.FastRegisterResult;
import me.chanjar.weixin.open.bean.message.WxOpenXmlMessage;
import me.chanjar.weixin.open.bean.result.WxAmpLinkResult;
import me.chanjar.weixin.open.bean.result.WxOpenAuthorizerInfoResult;
import me.chanjar.weixin.open.bean.result.WxOpenAuthorizerListResult;
import me.chanjar.weixin.open.bean.result.WxFastMaAccountBasicInfoResult;

/**
 * Conformance runner for WxJava weixin-java-open (unmodified): what a third-party platform written for WeChat does,
 * against the fastreg at FASTREG_URL (sandbox key FASTREG_SANDBOX_KEY).
 *
 * <p>WxJava's host setting ({@code WxOpenInMemoryConfigStorage.setApiHostUrl}) reaches only its Mini Program
 * services; the component and Official Account services call {@code https://api.weixin.qq.com} verbatim. Their
 * one overridable hook, {@code execute(executor, uri, data)}, is where this runner swaps that prefix for fastreg's
 * base URL: nothing else of the SDK is changed.
 *
 * <p>Prints one JSON line with the SDK and its version, then one JSON line per call: {"call", "ok", "detail"}
 * (conformance/README.md). Each check is written to what fidelity.md says WeChat does.
 */
public final class Runner {
  private static final String REDIRECT = "https://tp.example.com/wechat/redirect";
  private static final Pattern RID = Pattern.compile(" rid: \\S+$");
  private static final Gson GSON = new Gson();
  private static String base;

  private Runner() {}

  /** WeChat's API and page hosts, as fastreg serves both on one origin. */
  static String local(String url) {
    return url.replace("https://api.weixin.qq.com", base).replace("https://mp.weixin.qq.com", base);
  }

  /** The component service's HTTP, pointed at fastreg. */
  static final class FastregOpenService extends WxOpenServiceImpl {
    @Override
    protected <T, E> T execute(RequestExecutor<T, E> executor, String uri, E data) throws WxErrorException {
      return super.execute(executor, local(uri), data);
    }
  }

  /** An authorized Official Account's service (what getWxMpServiceByAppid builds), pointed at fastreg. */
  static final class FastregMpService extends WxOpenMpServiceImpl {
    FastregMpService(WxOpenComponentService component, String appId, WxMpConfigStorage storage) {
      super(component, appId, storage);
    }

    @Override
    public <T, E> T execute(RequestExecutor<T, E> executor, String uri, E data) throws WxErrorException {
      return super.execute(executor, local(uri), data);
    }
  }

  interface Step {
    String run() throws Exception;
  }

  static final class Check extends Exception {
    Check(String detail) {
      super(detail);
    }
  }

  static void expect(boolean condition, String detail) throws Check {
    if (!condition) {
      throw new Check(detail);
    }
  }

  static void emit(Map<String, Object> fields) {
    System.out.println(GSON.toJson(fields));
    System.out.flush();
  }

  static void call(String name, Step step) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("call", name);
    try {
      String detail = step.run();
      row.put("ok", true);
      row.put("detail", detail);
    } catch (Check failed) {
      row.put("ok", false);
      row.put("detail", failed.getMessage());
    } catch (Exception error) {
      row.put("ok", false);
      String text = error.getClass().getSimpleName() + ": " + error.getMessage();
      row.put("detail", text.length() > 500 ? text.substring(0, 500) : text);
      error.printStackTrace();
    }
    emit(row);
  }

  static Map<String, String> query(String rawQuery) {
    Map<String, String> params = new HashMap<>();
    if (rawQuery != null) {
      for (String pair : rawQuery.split("&")) {
        int equals = pair.indexOf('=');
        if (equals > 0) {
          params.put(pair.substring(0, equals), URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return params;
  }

  static void answer(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  public static void main(String[] args) throws Exception {
    Package sdk = WxOpenServiceImpl.class.getPackage();
    String version = sdk.getImplementationVersion() != null ? sdk.getImplementationVersion() : versionFromJar();
    emit(Map.of("sdk", "wxjava", "version", version, "language", "Java"));
    base = System.getenv("FASTREG_URL").replaceAll("/+$", "");
    Sandbox sandbox = new Sandbox(base, System.getenv("FASTREG_SANDBOX_KEY"));
    String suffix = String.valueOf(System.nanoTime()).substring(4, 12);
    JsonObject oa = sandbox.call("POST", "/official-accounts", Map.of(
        "name", "WxJava 公众号 " + suffix, "principal_name", "WxJava 科技 " + suffix + " 有限公司",
        "principal_type", "enterprise"));
    String oaAppId = oa.get("appid").getAsString();
    String admin = oa.get("admin_wxid").getAsString();

    // The component, its config in WxJava's in-memory storage, its service pointed at fastreg.
    WxOpenInMemoryConfigStorage config = new WxOpenInMemoryConfigStorage();
    config.setApiHostUrl(base); // WxJava's own host setting: its Mini Program services honour it
    FastregOpenService open = new FastregOpenService();
    WxOpenComponentService component = open.getWxOpenComponentService();

    // The callback URL: WxJava's documented handler (checkSignature, fromEncryptedXml, route).
    List<String> handlerErrors = new CopyOnWriteArrayList<>();
    HttpServer callback = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    callback.createContext("/wechat/callback", exchange -> {
      try {
        Map<String, String> params = query(exchange.getRequestURI().getRawQuery());
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String timestamp = params.get("timestamp");
        String nonce = params.get("nonce");
        if (!"aes".equalsIgnoreCase(params.get("encrypt_type"))
            || !component.checkSignature(timestamp, nonce, params.get("signature"))) {
          handlerErrors.add("checkSignature refused the push (query " + params.keySet() + ")");
          answer(exchange, 403, "invalid signature");
          return;
        }
        WxOpenXmlMessage message = WxOpenXmlMessage.fromEncryptedXml(
            body, config, timestamp, nonce, params.get("msg_signature"));
        answer(exchange, 200, component.route(message));
      } catch (Exception error) {
        handlerErrors.add(error.getClass().getSimpleName() + ": " + error.getMessage());
        answer(exchange, 500, "error");
      }
    });
    callback.start();
    String callbackUrl = "http://127.0.0.1:" + callback.getAddress().getPort() + "/wechat/callback";
    JsonObject created = sandbox.call("POST", "/components", Map.of(
        "name", "WxJava 平台 " + suffix, "redirect_domain", "tp.example.com", "callback_url", callbackUrl));
    String componentAppId = created.get("component_appid").getAsString();
    config.setComponentAppId(componentAppId);
    config.setComponentAppSecret(created.get("component_appsecret").getAsString());
    config.setComponentToken(created.get("token").getAsString());
    config.setComponentAesKey(created.get("encoding_aes_key").getAsString());
    open.setWxOpenConfigStorage(config);

    Map<String, Object> state = new HashMap<>();
    FastregMpService oaService = new FastregMpService(component, oaAppId, config.getWxMpConfigStorage(oaAppId));

    call("start_push_ticket", () -> {
      component.startPushTicket();
      return "startPushTicket";
    });
    call("push_verify_ticket", () -> {
      String fresh = sandbox.call("POST", "/components/" + componentAppId + "/verify-ticket", null)
          .get("component_verify_ticket").getAsString();
      long deadline = System.currentTimeMillis() + 10_000;
      while (!fresh.equals(config.getComponentVerifyTicket()) && System.currentTimeMillis() < deadline) {
        Thread.sleep(50);
      }
      if (!fresh.equals(config.getComponentVerifyTicket())) {
        config.setComponentVerifyTicket(fresh); // the next rows measure their own calls
        throw new Check("the push handler did not store the ticket; it said " + handlerErrors);
      }
      return "checkSignature, fromEncryptedXml and route stored the pushed ticket";
    });
    call("component_token", () -> {
      String token = component.getComponentAccessToken(true);
      expect(token != null && !token.isEmpty(), "no component_access_token");
      return "getComponentAccessToken";
    });
    call("older_ticket_token", () -> {
      // fidelity row 3: a ticket issued within 12 h still works after a newer one (an SDK that missed a push).
      String latest = config.getComponentVerifyTicket();
      config.setComponentVerifyTicket(created.get("component_verify_ticket").getAsString());
      try {
        String token = component.getComponentAccessToken(true);
        expect(token != null && !token.isEmpty(), "no component_access_token");
      } finally {
        config.setComponentVerifyTicket(latest);
      }
      return "getComponentAccessToken with the ticket issued at creation";
    });
    call("pre_auth_code", () -> {
      String url = component.getPreAuthUrl(REDIRECT, "3", oaAppId);
      expect(url.contains("pre_auth_code="), url);
      state.put("consent", local(url)); // the browser opens it on fastreg
      return "getPreAuthUrl";
    });
    call("authorization", () -> {
      String confirmation = sandbox.confirmationUrl((String) state.get("consent"));
      JsonObject answered = sandbox.scan(confirmation, admin);
      String redirect = answered.get("redirect_url").getAsString();
      state.put("redirect", redirect);
      WxOpenAuthorizationInfo info = component.getQueryAuth(Sandbox.queryParam(redirect, "auth_code"))
          .getAuthorizationInfo();
      expect(oaAppId.equals(info.getAuthorizerAppid()), "authorizer_appid " + info.getAuthorizerAppid());
      state.put("funcInfo", info.getFuncInfo());
      return "consent page confirmed, getQueryAuth";
    });
    call("authorization_shape", () -> {
      String redirect = (String) state.get("redirect");
      expect("600".equals(Sandbox.queryParam(redirect, "expires_in")),
          "redirect expires_in (fidelity row 15): " + redirect);
      Object funcInfo = state.get("funcInfo");
      expect(funcInfo instanceof List<?> ids && ids.contains(27),
          "permission set 27 not in func_info " + funcInfo + " (fidelity row 1)");
      return "expires_in=600, func_info has set 27";
    });
    call("authorizer_info", () -> {
      WxOpenAuthorizerInfoResult info = component.getAuthorizerInfo(oaAppId);
      expect(info.getAuthorizationInfo().getAuthorizerRefreshToken() != null,
          "no authorization_info.authorizer_refresh_token (fidelity row 7)");
      expect(info.getAuthorizerInfo().getBasicConfig() != null, "no authorizer_info.basic_config (fidelity row 7)");
      expect(info.getAuthorizerInfo().getAccountStatus() != null, "no authorizer_info.account_status (fidelity row 7)");
      return "getAuthorizerInfo";
    });
    call("authorizer_token_refresh", () -> {
      String before = config.getAuthorizerAccessToken(oaAppId);
      String token = component.getAuthorizerAccessToken(oaAppId, true);
      expect(token != null && !token.isEmpty(), "no authorizer_access_token");
      return Objects.equals(before, token) ? "same token again" : "getAuthorizerAccessToken(forceRefresh)";
    });
    call("authorizer_list", () -> {
      WxOpenAuthorizerListResult list = component.getAuthorizerList(0, 100);
      List<String> appids = new ArrayList<>();
      for (Map<String, String> entry : list.getList()) {
        appids.add(entry.get("authorizer_appid"));
      }
      expect(appids.contains(oaAppId), oaAppId + " not in " + appids + " (fidelity row 9)");
      return "total_count " + list.getTotalCount();
    });
    call("fastregister", () -> {
      String page = local(oaService.getFastRegisterAuthUrl(REDIRECT, true));
      JsonObject answered = sandbox.scan(sandbox.confirmationUrl(page), admin);
      String ticket = Sandbox.queryParam(answered.get("redirect_url").getAsString(), "ticket");
      state.put("ticket", ticket);
      FastRegisterResult result = oaService.fastRegister(ticket);
      expect(Boolean.TRUE.equals(result.getIsWxVerifySucc()), "is_wx_verify_succ " + result.getIsWxVerifySucc());
      WxOpenAuthorizationInfo mp = component.getQueryAuth(result.getAuthorizationCode()).getAuthorizationInfo();
      expect(result.getAppId().equals(mp.getAuthorizerAppid()), "getQueryAuth of the new MP gave " + mp.getAuthorizerAppid());
      state.put("mp", result.getAppId());
      return "fastRegister → " + result.getAppId();
    });
    call("getaccountbasicinfo", () -> {
      String mp = (String) state.get("mp");
      expect(mp != null, "no MP (fastregister failed)");
      WxFastMaAccountBasicInfoResult basic = component.getWxMaServiceByAppid(mp).getBasicService().getAccountBasicInfo();
      expect(mp.equals(basic.getAppId()), "appid " + basic.getAppId());
      expect(Integer.valueOf(1).equals(basic.getRealnameStatus()), "realname_status " + basic.getRealnameStatus());
      expect(basic.getWxVerifyInfo() != null && Boolean.TRUE.equals(basic.getWxVerifyInfo().getQualificationVerify()),
          "wx_verify_info.qualification_verify");
      expect(basic.getCustomerType() != null, "no customer_type (fidelity row 5)");
      expect(basic.getSignatureInfo() != null && basic.getHeadImageInfo() != null && basic.getNicknameInfo() != null,
          "no signature_info / head_image_info / nickname_info (fidelity row 5)");
      return "getBasicService().getAccountBasicInfo (GET)";
    });
    call("wxamplinkget", () -> {
      String mp = (String) state.get("mp");
      WxAmpLinkResult result = oaService.getWxAmpLink();
      for (WxAmpLinkResult.Item item : result.getWxOpen().getItems()) {
        if (item.getAppid().equals(mp)) {
          expect(Integer.valueOf(1).equals(item.getStatus()), "status " + item.getStatus());
          expect(item.getFuncInfo() != null, "no func_info (WxJava reads the old name, fidelity row 10)");
          return "getWxAmpLink";
        }
      }
      throw new Check("the new MP is not among the items");
    });
    call("refusal_errcode", () -> {
      try {
        oaService.fastRegister((String) state.get("ticket"));
      } catch (WxErrorException error) {
        state.put("refusal", error);
        expect(error.getError().getErrorCode() == 61058, "errcode " + error.getError().getErrorCode());
        return "WxErrorException 61058 for a used ticket";
      }
      throw new Check("a used ticket was accepted");
    });
    call("refusal_errmsg", () -> {
      WxErrorException error = (WxErrorException) state.get("refusal");
      expect(error != null, "no refusal to read");
      // WxError keeps the wire text in errorMsgEn when it knows a Chinese one for the code.
      String wire = error.getError().getErrorMsgEn() != null ? error.getError().getErrorMsgEn() : error.getError().getErrorMsg();
      expect(wire.startsWith("invalid ticket rid: ") && RID.matcher(wire).find(), "\"" + wire + "\"");
      return "\"" + wire + "\"";
    });
    call("refusal_auth_code", () -> {
      try {
        component.getQueryAuth("not-a-code");
      } catch (WxErrorException error) {
        expect(error.getError().getErrorCode() == 61009,
            "errcode " + error.getError().getErrorCode() + " (fidelity row 6)");
        return "WxErrorException 61009";
      }
      throw new Check("an unknown authorization code was accepted");
    });
    callback.stop(0);
    System.exit(0);
  }

  private static String versionFromJar() {
    String path = WxOpenServiceImpl.class.getProtectionDomain().getCodeSource().getLocation().getPath();
    String jar = path.substring(path.lastIndexOf('/') + 1);
    return jar.replaceFirst("^weixin-java-open-", "").replaceFirst("\\.jar$", "");
  }
}
