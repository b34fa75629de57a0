# mesh_mtls strict against bad X.509-SVIDs: every certificate or SPIFFE ID
# that breaks the SPIFFE-ID or X.509-SVID standard, or that does not chain
# to the bundle of its own trust domain, is refused with 403 and the
# mesh-identity problem body, and the reason is logged at [info], never at
# [error].
#
# A CA per trust domain and the certificates are made with openssl when the
# suite starts, beside the server root.  nginx itself is the TLS client: the
# default server proxies /c/NAME over TLS to the strict server, presenting
# NAME.crt as its client certificate (proxy_ssl_certificate with a variable,
# no session reuse, so that every request shows its own certificate).
#
#   prove -I t/lib t/071-mesh-bad-svid.t

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Pki;

use File::Path qw(remove_tree);

our $Pki = server_root() . '.pki-bad';

pki();

ca('ca');               # example.org
ca('other-ca');         # other.org

leaf('server', san => 'URI:spiffe://example.org/ns/mesh/sa/server');
leaf('good', san => 'URI:spiffe://example.org/ns/shop/sa/web');

my $td = 'spiffe://example.org';

leaf('two-uris', san => "URI:$td/ns/a, URI:$td/ns/b");
leaf('dns-only', san => 'DNS:web.example.org');
leaf('no-san');
leaf('upper-td', san => 'URI:spiffe://Example.org/ns/a');
leaf('pct-td', san => 'URI:spiffe://exa%6Dple.org/ns/a');
leaf('bad-td-char', san => 'URI:spiffe://exa+mple.org/ns/a');
leaf('empty-td', san => 'URI:spiffe:///ns/a');
leaf('long-td', san => 'URI:spiffe://' . ('a' x 256) . '/ns/a');
leaf('port', san => 'URI:spiffe://example.org:8443/ns/a');
leaf('userinfo', san => 'URI:spiffe://web@example.org/ns/a');
leaf('query', san => "URI:$td/ns/a?x=1");
leaf('fragment', san => "URI:$td/ns/a#top");
leaf('dot-dot', san => "URI:$td/ns/../a");
leaf('dot', san => "URI:$td/ns/./a");
leaf('empty-segment', san => "URI:$td/ns//a");
leaf('trailing-slash', san => "URI:$td/ns/a/");
leaf('root', san => "URI:$td");
leaf('root-slash', san => "URI:$td/");
leaf('pct-path', san => "URI:$td/ns/a%2Fb");
leaf('bad-path-char', san => "URI:$td/ns/a+b");
leaf('long-id', san => "URI:$td/" . ('a' x 2030));
leaf('https', san => 'URI:https://example.org/ns/a');
leaf('upper-scheme', san => 'URI:SPIFFE://example.org/ns/a');
leaf('ca-leaf', san => "URI:$td/ns/a", bc => 'critical,CA:TRUE');
leaf('key-cert-sign', san => "URI:$td/ns/a",
     ku => 'critical,digitalSignature,keyCertSign');
leaf('crl-sign', san => "URI:$td/ns/a",
     ku => 'critical,digitalSignature,cRLSign');
leaf('server-auth-only', san => "URI:$td/ns/a", eku => 'serverAuth');
leaf('expired', san => "URI:$td/ns/a", from => -7200, to => -3600);
leaf('not-yet-valid', san => "URI:$td/ns/a", from => 3600, to => 7200);
leaf('foreign', san => "URI:$td/ns/a", ca => 'other-ca');
leaf('self-signed', san => "URI:$td/ns/a", self => 1);
leaf('no-bundle', san => 'URI:spiffe://nobundle.org/ns/a');

our $HttpConfig = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name mesh;

        ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-bad/server.crt;
        ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-bad/leaf.key;

        mesh_trust_domain example.org;
        mesh_trust_bundle example.org $TEST_NGINX_SERVER_ROOT.pki-bad/ca.crt;
        mesh_trust_bundle other.org
                          $TEST_NGINX_SERVER_ROOT.pki-bad/other-ca.crt;
        mesh_mtls strict;

        location / {
            root $TEST_NGINX_SERVER_ROOT/html;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location ~ ^/c/(?<svid>[a-z0-9-]+)$ {
        rewrite ^ /ok.txt break;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-bad/$svid.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-bad/leaf.key;
        proxy_ssl_session_reuse off;
    }

    location = /nocert {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ok.txt;
        proxy_ssl_session_reuse off;
    }
_EOC_

our $Problem = '{"type":"https://nginx-apim.dev/problems/mesh-identity",'
    . '"title":"Forbidden","status":403,"detail":"This service accepts only '
    . 'callers with a verified SPIFFE identity (an X.509-SVID client '
    . 'certificate).","instance":"/ok.txt"}' . "\n";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    return if defined $block->error_code;

    $block->set_value('error_code', 403);
    $block->set_value('response_headers',
                      'Content-Type: application/problem+json');
    $block->set_value('response_body', $Problem);
    $block->set_value('no_error_log', "[error]\n[alert]\n")
        unless defined $block->no_error_log;
});

END {
    remove_tree($Pki) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: control: a valid SVID passes
--- request
GET /c/good
--- error_code: 200
--- response_body
ok
--- no_error_log
[error]
[alert]
refused



=== TEST 2: no client certificate at all
--- request
GET /nocert
--- error_log
mesh_mtls strict refused the request: no client certificate



=== TEST 3: two URI SANs
--- request
GET /c/two-uris
--- error_log
mesh: client certificate refused: more than one URI SAN



=== TEST 4: no URI SAN (a DNS name only)
--- request
GET /c/dns-only
--- error_log
mesh: client certificate refused: no URI SAN



=== TEST 5: no subjectAltName at all
--- request
GET /c/no-san
--- error_log
mesh: client certificate refused: no URI SAN



=== TEST 6: an uppercase trust domain
--- request
GET /c/upper-td
--- error_log
mesh: client certificate refused: an uppercase letter in the trust domain, SPIFFE ID "spiffe://Example.org/ns/a"



=== TEST 7: a percent-encoded trust domain
--- request
GET /c/pct-td
--- error_log
mesh: client certificate refused: percent-encoding, SPIFFE ID "spiffe://exa%6Dple.org/ns/a"



=== TEST 8: a character not allowed in a trust domain
--- request
GET /c/bad-td-char
--- error_log
mesh: client certificate refused: an invalid character in the trust domain



=== TEST 9: an empty trust domain
--- request
GET /c/empty-td
--- error_log
mesh: client certificate refused: an empty trust domain



=== TEST 10: a trust domain over 255 bytes
--- request
GET /c/long-td
--- error_log
mesh: client certificate refused: a trust domain longer than 255 bytes



=== TEST 11: a port
--- request
GET /c/port
--- error_log
mesh: client certificate refused: a port, SPIFFE ID "spiffe://example.org:8443/ns/a"



=== TEST 12: userinfo
--- request
GET /c/userinfo
--- error_log
mesh: client certificate refused: userinfo, SPIFFE ID "spiffe://web@example.org/ns/a"



=== TEST 13: a query
--- request
GET /c/query
--- error_log
mesh: client certificate refused: a query, SPIFFE ID "spiffe://example.org/ns/a?x=1"



=== TEST 14: a fragment
--- request
GET /c/fragment
--- error_log
mesh: client certificate refused: a fragment, SPIFFE ID "spiffe://example.org/ns/a#top"



=== TEST 15: a ".." segment
--- request
GET /c/dot-dot
--- error_log
mesh: client certificate refused: a ".." path segment



=== TEST 16: a "." segment
--- request
GET /c/dot
--- error_log
mesh: client certificate refused: a "." path segment



=== TEST 17: an empty segment
--- request
GET /c/empty-segment
--- error_log
mesh: client certificate refused: an empty path segment



=== TEST 18: a trailing slash
--- request
GET /c/trailing-slash
--- error_log
mesh: client certificate refused: a trailing slash, SPIFFE ID "spiffe://example.org/ns/a/"



=== TEST 19: a root ID (no path)
--- request
GET /c/root
--- error_log
mesh: client certificate refused: no path (a root ID), SPIFFE ID "spiffe://example.org"



=== TEST 20: a root ID with a slash
--- request
GET /c/root-slash
--- error_log
mesh: client certificate refused: a trailing slash, SPIFFE ID "spiffe://example.org/"



=== TEST 21: a percent-encoded path
--- request
GET /c/pct-path
--- error_log
mesh: client certificate refused: percent-encoding



=== TEST 22: a character not allowed in a path segment
--- request
GET /c/bad-path-char
--- error_log
mesh: client certificate refused: an invalid character in the path



=== TEST 23: an ID over 2048 bytes
--- request
GET /c/long-id
--- error_log
mesh: client certificate refused: an ID longer than 2048 bytes



=== TEST 24: not the spiffe scheme
--- request
GET /c/https
--- error_log
mesh: client certificate refused: not a spiffe:// URI, SPIFFE ID "https://example.org/ns/a"



=== TEST 25: the scheme in uppercase
--- request
GET /c/upper-scheme
--- error_log
mesh: client certificate refused: not a spiffe:// URI



=== TEST 26: a CA certificate as the leaf (CA:TRUE)
--- request
GET /c/ca-leaf
--- error_log
mesh: client certificate refused: a CA certificate, SPIFFE ID "spiffe://example.org/ns/a"



=== TEST 27: keyUsage keyCertSign
--- request
GET /c/key-cert-sign
--- error_log
mesh: client certificate refused: keyUsage keyCertSign



=== TEST 28: keyUsage cRLSign
--- request
GET /c/crl-sign
--- error_log
mesh: client certificate refused: keyUsage cRLSign



=== TEST 29: an extendedKeyUsage without clientAuth
--- request
GET /c/server-auth-only
--- error_log
mesh: client certificate refused: unsuitable certificate purpose



=== TEST 30: an expired certificate
--- request
GET /c/expired
--- error_log
mesh: client certificate refused: certificate has expired, SPIFFE ID "spiffe://example.org/ns/a"



=== TEST 31: a certificate not yet valid
--- request
GET /c/not-yet-valid
--- error_log
mesh: client certificate refused: certificate is not yet valid



=== TEST 32: signed by another trust domain's CA (bundle mismatch)
--- request
GET /c/foreign
--- error_log
mesh: client certificate refused: unable to get local issuer certificate, SPIFFE ID "spiffe://example.org/ns/a"



=== TEST 33: a self-signed leaf
--- request
GET /c/self-signed
--- error_log
mesh: client certificate refused: self-signed certificate



=== TEST 34: a trust domain with no bundle
--- request
GET /c/no-bundle
--- error_log
mesh: client certificate refused: no mesh_trust_bundle for its trust domain, SPIFFE ID "spiffe://nobundle.org/ns/a"
