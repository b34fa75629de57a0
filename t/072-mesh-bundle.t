# Trust bundles: PEM CA certificates and SPIFFE bundles in JWKS form, one
# X509_STORE per trust domain; federation (the leaf's trust domain picks its
# bundle); and every bad bundle file or identity directive failing nginx -t
# with a message naming the directive and the file.
#
# The CAs, SVIDs and bundle files are made when the suite starts, beside the
# server root.  nginx is the TLS client: the default server proxies /NAME
# over TLS to the mesh server presenting NAME.crt.
#
#   prove -I t/lib t/072-mesh-bundle.t

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Pki;

use File::Path qw(remove_tree);
use MIME::Base64 qw(encode_base64);

our $Pki = server_root() . '.pki-bundle';

pki();

sub slurp {
    my ($file) = @_;

    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

# the base64 DER of a PEM certificate, as "x5c" holds it

sub x5c {
    my ($name) = @_;

    openssl('x509', '-in', "$Pki/$name.crt", '-outform', 'DER',
            '-out', "$Pki/$name.der");

    return encode_base64(slurp("$Pki/$name.der"), '');
}

# an intermediate CA NAME signed by the CA named

sub intermediate {
    my ($name, $ca) = @_;

    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout',
            '-out', "$Pki/$name.key");
    openssl('req', '-new', '-config', "$Pki/openssl.cnf",
            '-key', "$Pki/$name.key", '-subj', "/O=nginx-apim tests/CN=$name",
            '-out', "$Pki/$name.csr");
    openssl('ca', '-batch', '-config', "$Pki/openssl.cnf", '-notext',
            '-name', 'ca_default', '-keyfile', "$Pki/$ca.key",
            '-cert', "$Pki/$ca.crt", '-days', '30',
            '-extfile', "$Pki/openssl.cnf", '-extensions', 'ca_ext',
            '-in', "$Pki/$name.csr", '-out', "$Pki/$name.crt");
}

ca('ca');               # example.org, now
ca('ca-next');          # example.org, the next one (rotation)
ca('partner-ca');       # partner.org, published as a JWKS bundle

leaf('server', san => 'URI:spiffe://example.org/ns/mesh/sa/server');
leaf('web', san => 'URI:spiffe://example.org/ns/shop/sa/web');
leaf('web-next', san => 'URI:spiffe://example.org/ns/shop/sa/web',
     ca => 'ca-next');
leaf('partner', san => 'URI:spiffe://partner.org/ns/pay/sa/api',
     ca => 'partner-ca');
leaf('partner-by-ours', san => 'URI:spiffe://partner.org/ns/pay/sa/api');
leaf('ours-by-partner', san => 'URI:spiffe://example.org/ns/shop/sa/web',
     ca => 'partner-ca');

spew("$Pki/example.pem", slurp("$Pki/ca.crt") . slurp("$Pki/ca-next.crt"));

# team.org: a root, and an intermediate that signs the SVIDs; the bundle of
# team.org holds the root only, that of lab.org the intermediate only

ca('team-root');
intermediate('team-inter', 'team-root');
leaf('team', san => 'URI:spiffe://team.org/ns/a/sa/b', ca => 'team-inter');
leaf('lab', san => 'URI:spiffe://lab.org/ns/a/sa/b', ca => 'team-inter');
spew("$Pki/team-chain.crt", slurp("$Pki/team.crt")
                            . slurp("$Pki/team-inter.crt"));

my $partner = x5c('partner-ca');
my $leaf = x5c('web');

spew("$Pki/partner.json", <<"_EOJ_");
{
    "spiffe_sequence": 7,
    "spiffe_refresh_hint": 300,
    "keys": [
        { "use": "jwt-svid", "kty": "EC", "kid": "k1", "crv": "P-256",
          "x": "AAAA", "y": "AAAA" },
        { "use": "x509-svid", "kty": "EC", "crv": "P-256",
          "x": "AAAA", "y": "AAAA", "x5c": ["$partner"] }
    ]
}
_EOJ_

spew("$Pki/empty.pem", "");
spew("$Pki/junk.pem", "not a certificate\n");
spew("$Pki/leaf.pem", slurp("$Pki/web.crt"));
spew("$Pki/broken.pem", "-----BEGIN CERTIFICATE-----\nnot base64 !\n"
                        . "-----END CERTIFICATE-----\n");
spew("$Pki/bad.json", '{"keys": [');
spew("$Pki/nokeys.json", '{"spiffe_sequence": 1}');
spew("$Pki/nouse.json", qq({"keys": [{"kty": "EC", "x5c": ["$partner"]}]}));
spew("$Pki/two.json", qq({"keys": [{"use": "x509-svid", )
                      . qq("x5c": ["$partner", "$partner"]}]}));
spew("$Pki/notb64.json", '{"keys": [{"use": "x509-svid", "x5c": ["!!"]}]}');
spew("$Pki/notder.json", '{"keys": [{"use": "x509-svid", '
                         . '"x5c": ["aGVsbG8="]}]}');
spew("$Pki/jwtonly.json", '{"keys": [{"use": "jwt-svid", "kty": "EC"}]}');
spew("$Pki/leaf.json", qq({"keys": [{"use": "x509-svid", )
                       . qq("x5c": ["$leaf"]}]}));

our $HttpConfig = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name mesh;

        ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-bundle/server.crt;
        ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-bundle/leaf.key;

        mesh_trust_domain example.org;
        mesh_trust_bundle example.org
                          $TEST_NGINX_SERVER_ROOT.pki-bundle/example.pem;
        mesh_trust_bundle partner.org
                          $TEST_NGINX_SERVER_ROOT.pki-bundle/partner.json;
        mesh_trust_bundle team.org
                          $TEST_NGINX_SERVER_ROOT.pki-bundle/team-root.crt;
        mesh_trust_bundle lab.org
                          $TEST_NGINX_SERVER_ROOT.pki-bundle/team-inter.crt;
        mesh_mtls strict;

        location / {
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer "$mesh_peer_id $mesh_peer_trust_domain";
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location = /echo {
        return 200 "$http_x_peer\n";
    }

    location ~ ^/(?<svid>[a-z-]+)$ {
        rewrite ^ /x break;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-bundle/$svid.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-bundle/leaf.key;
        proxy_ssl_session_reuse off;
    }
_EOC_

# a configuration whose only fault is in the mesh directives given

sub bad_config {
    my ($directives) = @_;

    return <<"_EOC_";
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-bundle/server.crt;
        ssl_certificate_key \$TEST_NGINX_SERVER_ROOT.pki-bundle/leaf.key;
$directives
    }
_EOC_
}

sub bundle {
    my ($file) = @_;

    return bad_config("        mesh_trust_bundle example.org $Pki/$file;");
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
});

END {
    remove_tree($Pki) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: PEM bundle: a leaf of the current CA passes
--- request
GET /web
--- error_code: 200
--- response_body
spiffe://example.org/ns/shop/sa/web example.org
--- no_error_log
[error]
[alert]
refused



=== TEST 2: PEM bundle with two CAs (rotation): a leaf of the next CA passes
--- request
GET /web-next
--- error_code: 200
--- response_body
spiffe://example.org/ns/shop/sa/web example.org
--- no_error_log
[error]
[alert]
refused



=== TEST 3: JWKS bundle (federation): a partner.org SVID passes
--- request
GET /partner
--- error_code: 200
--- response_body
spiffe://partner.org/ns/pay/sa/api partner.org
--- no_error_log
[error]
[alert]
refused



=== TEST 4: federation: a partner.org ID signed by our CA is refused
--- request
GET /partner-by-ours
--- error_code: 403
--- error_log
mesh: client certificate refused: unable to get local issuer certificate, SPIFFE ID "spiffe://partner.org/ns/pay/sa/api"
--- no_error_log
[error]
[alert]



=== TEST 5: federation: an example.org ID signed by the partner's CA is refused
--- request
GET /ours-by-partner
--- error_code: 403
--- error_log
mesh: client certificate refused: unable to get local issuer certificate, SPIFFE ID "spiffe://example.org/ns/shop/sa/web"
--- no_error_log
[error]
[alert]



=== TEST 6: an intermediate sent by the client chains the leaf to the root in the bundle
--- request
GET /team-chain
--- error_code: 200
--- response_body
spiffe://team.org/ns/a/sa/b team.org
--- no_error_log
[error]
[alert]
refused



=== TEST 7: without the intermediate the leaf does not chain to the root
--- request
GET /team
--- error_code: 403
--- error_log
mesh: client certificate refused: unable to get local issuer certificate, SPIFFE ID "spiffe://team.org/ns/a/sa/b"
--- no_error_log
[error]
[alert]



=== TEST 7b: the leaf verified with its intermediate, then without it: a worker remembers a verdict by leaf and chain, not by leaf alone
--- request eval
["GET /team-chain", "GET /team", "GET /team-chain"]
--- error_code eval
[200, 403, 200]
--- response_body eval
["spiffe://team.org/ns/a/sa/b team.org\n", qr/./, "spiffe://team.org/ns/a/sa/b team.org\n"]
--- no_error_log
[error]
[alert]



=== TEST 8: an intermediate in a bundle is a trust anchor of its own
--- request
GET /lab
--- error_code: 200
--- response_body
spiffe://lab.org/ns/a/sa/b lab.org
--- no_error_log
[error]
[alert]
refused



=== TEST 9: a bundle file that does not exist
--- http_config eval
main::bundle('missing.pem')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/missing.pem" cannot be opened (2: No such file or directory)}, '[emerg]']



=== TEST 10: an empty PEM file
--- http_config eval
main::bundle('empty.pem')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/empty.pem": no certificate found}, '[emerg]']



=== TEST 11: a file that is neither PEM nor JSON
--- http_config eval
main::bundle('junk.pem')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/junk.pem": no certificate found}, '[emerg]']



=== TEST 12: a PEM certificate that is no CA
--- http_config eval
main::bundle('leaf.pem')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/leaf.pem": certificate 1 is not a CA}, '[emerg]']



=== TEST 13: a broken PEM certificate
--- http_config eval
main::bundle('broken.pem')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/broken.pem": certificate 1 is not valid PEM}, '[emerg]']



=== TEST 14: invalid JSON
--- http_config eval
main::bundle('bad.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/bad.json": invalid JSON}, '[emerg]']



=== TEST 15: a JWKS without "keys"
--- http_config eval
main::bundle('nokeys.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/nokeys.json": no "keys" array}, '[emerg]']



=== TEST 16: a key without "use"
--- http_config eval
main::bundle('nouse.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/nouse.json": key 1 has no "use"}, '[emerg]']



=== TEST 17: an x509-svid key with two certificates in "x5c"
--- http_config eval
main::bundle('two.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/two.json": key 1: "x5c" must hold exactly one certificate}, '[emerg]']



=== TEST 18: "x5c" not base64
--- http_config eval
main::bundle('notb64.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/notb64.json": key 1: "x5c" is not base64}, '[emerg]']



=== TEST 19: "x5c" not a DER certificate
--- http_config eval
main::bundle('notder.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/notder.json": key 1: "x5c" is not a DER certificate}, '[emerg]']



=== TEST 20: a JWKS with JWT keys only
--- http_config eval
main::bundle('jwtonly.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/jwtonly.json": no "x509-svid" key}, '[emerg]']



=== TEST 21: a JWKS whose certificate is no CA
--- http_config eval
main::bundle('leaf.json')
--- config
--- must_die
--- error_log eval
[qq{mesh_trust_bundle "$main::Pki/leaf.json": certificate 1 is not a CA}, '[emerg]']



=== TEST 22: an invalid trust domain in mesh_trust_bundle
--- http_config eval
main::bad_config("        mesh_trust_bundle Example.org $main::Pki/ca.crt;")
--- config
--- must_die
--- error_log
invalid trust domain "Example.org": an uppercase letter in the trust domain
[emerg]



=== TEST 23: an invalid mesh_trust_domain
--- http_config eval
main::bad_config("        mesh_trust_domain example.org:8443;")
--- config
--- must_die
--- error_log
invalid trust domain "example.org:8443": a port
[emerg]



=== TEST 24: mesh_trust_domain without a bundle for it
--- http_config eval
main::bad_config("        mesh_trust_domain example.org;\n"
                 . "        mesh_trust_bundle partner.org $main::Pki/ca.crt;")
--- config
--- must_die
--- error_log
no "mesh_trust_bundle" for the trust domain "example.org" of "mesh_trust_domain"
[emerg]



=== TEST 25: mesh_mtls without any bundle
--- http_config eval
main::bad_config("        mesh_mtls strict;")
--- config
--- must_die
--- error_log
"mesh_mtls" needs "mesh_trust_bundle" in the server in
[emerg]



=== TEST 26: an unknown mesh_mtls mode
--- http_config eval
main::bad_config("        mesh_mtls strictly;")
--- config
--- must_die
--- error_log
invalid value "strictly" in "mesh_mtls" directive, it must be "off", "permissive" or "strict"
[emerg]



=== TEST 27: a bundle at the http level serves every server
--- http_config
    mesh_trust_bundle example.org $TEST_NGINX_SERVER_ROOT.pki-bundle/ca.crt;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-bundle/server.crt;
        ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-bundle/leaf.key;
        mesh_mtls strict;

        location / {
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer "$mesh_peer_id $mesh_peer_trust_domain";
        }
    }
--- request
GET /web
--- error_code: 200
--- response_body
spiffe://example.org/ns/shop/sa/web example.org
--- no_error_log
[error]
[alert]
