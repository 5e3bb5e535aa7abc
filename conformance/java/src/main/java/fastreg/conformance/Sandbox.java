package fastreg.conformance;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A plain HTTP client of fastreg's sandbox control API (/sandbox/v1): what sets up the accounts and answers the
 * phone confirmations that a person answers on WeChat. It is no part of the SDK under test.
 */
final class Sandbox {
  private static final Pattern SCAN_QR = Pattern.compile("<img[^>]*id=\"scan-qr\"[^>]*>");
  private static final Pattern CONFIRMATION = Pattern.compile("data-confirmation-url=\"([^\"]+)\"");

  private final String base;
  private final String key;
  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
  private final Gson gson = new Gson();

  Sandbox(String base, String key) {
    this.base = base;
    this.key = key;
  }

  JsonObject call(String method, String path, Object body) throws IOException, InterruptedException {
    HttpRequest.BodyPublisher publisher = body == null
        ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(gson.toJson(body));
    HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/sandbox/v1" + path))
        .timeout(Duration.ofSeconds(30))
        .header("X-Sandbox-Key", key)
        .header("Content-Type", "application/json")
        .method(method, publisher)
        .build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() >= 300) {
      throw new IOException("sandbox " + method + " " + path + ": HTTP " + response.statusCode() + " " + response.body());
    }
    return gson.fromJson(response.body(), JsonObject.class);
  }

  /** Answers the confirmation whose URL a page's QR code encodes, as the person with this wxid. */
  JsonObject scan(String confirmationUrl, String wxid) throws IOException, InterruptedException {
    return call("POST", "/scans", Map.of("url", confirmationUrl, "wxid", wxid, "action", "confirm"));
  }

  /** Fetches a page as a browser would and returns the URL its QR code encodes (img#scan-qr). */
  String confirmationUrl(String page) throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(
        HttpRequest.newBuilder(URI.create(page)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    Matcher tag = SCAN_QR.matcher(response.body());
    Matcher found = tag.find() ? CONFIRMATION.matcher(tag.group()) : null;
    if (found == null || !found.find()) {
      throw new IOException("no img#scan-qr with a data-confirmation-url on " + page + " (HTTP " + response.statusCode() + ")");
    }
    return found.group(1).replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<")
        .replace("&gt;", ">").replace("&amp;", "&");
  }

  static String queryParam(String url, String name) {
    String query = URI.create(url).getRawQuery();
    if (query != null) {
      for (String pair : query.split("&")) {
        int equals = pair.indexOf('=');
        if (equals > 0 && pair.substring(0, equals).equals(name)) {
          return URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
        }
      }
    }
    throw new IllegalStateException("no " + name + " in " + url);
  }
}
