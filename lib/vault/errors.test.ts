import { describe, expect, it } from "vitest";
import { classifyNetworkError } from "./errors";

const coded = (code: string, extra: object = {}) => Object.assign(new Error(code), { code }, extra);
/** How undici reports a connect failure: a TypeError whose cause is the socket's error. */
const fetchFailed = (cause: Error) => Object.assign(new TypeError("fetch failed"), { cause });

describe("classifyNetworkError", () => {
  it("names the host without its port for DNS failures, and says when the DNS server did not answer", () => {
    expect(classifyNetworkError(fetchFailed(coded("ENOTFOUND")), "vault.corp.example:8200")).toMatchObject({
      kind: "dns",
      message: "The host name vault.corp.example could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).",
    });
    expect(classifyNetworkError(coded("EAI_AGAIN"), "[fd00::5]:443")?.message).toMatch(/^The host name fd00::5 could not be resolved \(the DNS server did not answer\)\./);
  });

  it("lists the names a mismatched certificate was issued for, found below wrappers, keeping only name characters", () => {
    const tlsError = coded("ERR_TLS_CERT_ALTNAME_INVALID", { cert: { subjectaltname: "DNS:a.example, DNS:b.example, IP Address:10.0.0.7, DNS:<script>, DNS:c.example, DNS:d.example" } });
    const wrapped = Object.assign(coded("ERR_TLS_CERT_ALTNAME_INVALID"), { cause: fetchFailed(tlsError) });
    expect(classifyNetworkError(wrapped, "kv.example:443")).toMatchObject({
      kind: "tls_hostname",
      message: "The TLS certificate of kv.example:443 is for a different host name (it names a.example, b.example, 10.0.0.7, c.example and 1 more). Use the address the certificate was issued for, or have the certificate reissued to include kv.example.",
    });
    expect(classifyNetworkError(coded("ERR_TLS_CERT_ALTNAME_INVALID", { cert: { subject: { CN: "legacy.example" } } }), "x.example")?.message).toContain("(it names legacy.example)");
    expect(classifyNetworkError(coded("ERR_TLS_CERT_ALTNAME_INVALID"), "x.example")?.message).toMatch(/^The TLS certificate of x\.example is for a different host name\. /);
  });

  it("a TLS alert from a store that gets no client certificate is a connection problem, not a refused sign-in", () => {
    const alert = coded("ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", { message: "C0D7E1F5:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40" });
    expect(classifyNetworkError(fetchFailed(alert), "vault.corp.example:8200")).toMatchObject({
      kind: "tcp",
      message: expect.stringMatching(/^vault\.corp\.example:8200 ended the TLS handshake \(handshake failure\)\. It may ask for a client certificate, which Latch does not present/),
    });
    expect(classifyNetworkError(coded("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", { message: "tlsv13 alert certificate required" }), "kv.example")?.kind).toBe("tcp");
  });
});
