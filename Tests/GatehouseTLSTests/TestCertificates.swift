// PEM fixtures for the TLS tests: a test CA and a "localhost" / 127.0.0.1 server certificate it
// signed (both EC P-256). Made once by running this script in an empty directory:
//
// # Regenerates the PEM fixtures in TestCertificates.swift (OpenSSL 3 CLI). Validity 2000-01-01 .. 2125-01-01,
// # so neither a slow nor a fast clock breaks the tests.
// set -e
// touch index.txt
// cat > ca.cnf <<'CNF'
// [ca]
// default_ca = testca
// [testca]
// database = index.txt
// new_certs_dir = .
// serial = serial
// default_md = sha256
// policy = anything
// unique_subject = no
// copy_extensions = none
// [anything]
// commonName = supplied
// [ca_ext]
// basicConstraints = critical,CA:TRUE
// keyUsage = critical,keyCertSign,cRLSign
// subjectKeyIdentifier = hash
// [server_ext]
// basicConstraints = CA:FALSE
// keyUsage = critical,digitalSignature
// extendedKeyUsage = serverAuth
// subjectAltName = DNS:localhost,IP:127.0.0.1
// authorityKeyIdentifier = keyid
// CNF
// echo 01 > serial
// openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out ca.key
// openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out server.key
// openssl req -new -key ca.key -subj "/CN=Gatehouse Test CA" -out ca.csr
// openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -in ca.csr -extensions ca_ext \
//     -startdate 20000101000000Z -enddate 21250101000000Z -notext -out ca.pem
// openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
// openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in server.csr -extensions server_ext \
//     -startdate 20000101000000Z -enddate 21250101000000Z -notext -out server.pem
//
// The CA's private key was thrown away; nothing here can sign anything else.

import Foundation

enum TestCertificates {
    static let caPEM = """
-----BEGIN CERTIFICATE-----
MIIBazCCARGgAwIBAgIBATAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFHYXRlaG91
c2UgVGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowHDEa
MBgGA1UEAwwRR2F0ZWhvdXNlIFRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAASRsyi9dbww9bj3No49S/vFbvsiNr96Y1p//3Ha1Pd89rwpuH44byl4umHH
MAVwTOgz8lhXb9PjEsw9TG9N0cj5o0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1Ud
DwEB/wQEAwIBBjAdBgNVHQ4EFgQUlj2v4E04dIre7fhVjzW6bUmFH6AwCgYIKoZI
zj0EAwIDSAAwRQIhAJMwJzCf5bQN7KBFX1sWd0KAFA/LLWXOsbgyWSONMtqPAiAM
jgQS1VeKfaoXMPhvB7Eq1lgm8CSJ97DsLcDJeVHX3g==
-----END CERTIFICATE-----
"""

    static let serverChainPEM = """
-----BEGIN CERTIFICATE-----
MIIBsDCCAVegAwIBAgIBAjAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFHYXRlaG91
c2UgVGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowFDES
MBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVHtr
sCHjLoXJAK91UIQ8rrbKBOh/u+6rGwsuYGEVYb8I1M62jYZ8Cm/g8hP4ooD2dZvg
woM+wuKNCPx7IW5jm6OBjzCBjDAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDAT
BgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEw
HwYDVR0jBBgwFoAUlj2v4E04dIre7fhVjzW6bUmFH6AwHQYDVR0OBBYEFLaAYzhX
COI26orw2K601TIMlebsMAoGCCqGSM49BAMCA0cAMEQCIHOEqTqwjkqnWPzCixXk
VbldzpXY9PtKFEsolR4nIo6XAiAbOjES1DpackNX5E5CPcIC76k8X0AxNopTjyXo
Kt5bnA==
-----END CERTIFICATE-----
"""

    static let serverKeyPEM = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKFrW5ysR6Ok7AF6B
G5yK7X0pa4MiroO25LuGB0LbkGqhRANCAARUe2uwIeMuhckAr3VQhDyutsoE6H+7
7qsbCy5gYRVhvwjUzraNhnwKb+DyE/iigPZ1m+DCgz7C4o0I/HshbmOb
-----END PRIVATE KEY-----
"""

    /// The fixtures written to a fresh temporary directory, once per test process.
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("gatehouse-tls-\(ProcessInfo.processInfo.processIdentifier)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in [("ca.pem", caPEM), ("server.pem", serverChainPEM), ("server.key", serverKeyPEM)] {
            try! (text + "\n").write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        return dir
    }()

    static var caFile: String { directory + "/ca.pem" }
    static var serverChainFile: String { directory + "/server.pem" }
    static var serverKeyFile: String { directory + "/server.key" }
}
