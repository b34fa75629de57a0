# Mesh authorization (issue 6): mesh_service, mesh_allow, mesh_deny and
# mesh_default evaluated in Istio's order (any matching deny denies; with
# no allow rule the default applies; otherwise a matching allow allows and
# everything else is denied), caller patterns (exact, prefix, "*"), methods
# and paths, callers without a verified SPIFFE ID failing closed, the 403
# problem body, $mesh_authz, and what nginx -t warns about and refuses.
#
# Real mTLS: a CA, SVIDs (leaf certificates with a spiffe:// URI SAN) and a
# second CA are made with openssl when the suite starts, beside the server
# root; the test server listens on a second port with TLS, and --- init
# calls it with IO::Socket::SSL presenting an SVID, checking each answer
# with Test::More.  The block's own --- request goes to the plain-HTTP
# port: a caller without any identity.
#
#   prove -I t/lib t/075-mesh-authz.t   (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Mtls;

use File::Path qw(make_path remove_tree);

our $Pki = server_root() . '.pki-authz';

no_root_location();

# a call and its expected status and $mesh_authz (sent as X-Authz); the
# body too, when given

sub check {
    my ($svid, $request, $status, $authz, $body) = @_;

    my $who = $svid // 'no certificate';
    my ($st, $h, $b) = call($svid, $request);

    Test::More::is($st, $status, "$who, $request: status");
    Test::More::is($h->{'x-authz'}, $authz, "$who, $request: \$mesh_authz");
    Test::More::is($b, $body, "$who, $request: body") if defined $body;
}

# the 403 body for a service

sub forbidden {
    my ($service, $instance) = @_;

    return '{"type":"https://nginx-apim.dev/problems/mesh-forbidden",'
           . '"title":"Forbidden","status":403,'
           . qq("detail":"The caller may not call service \\"$service\\".",)
           . qq("instance":"$instance"}\n);
}

remove_tree($Pki);
make_path($Pki);

make_ca('ca');
make_ca('other-ca');
make_leaf('server', 'ca', 'DNS:localhost', 'URI:spiffe://td.test/ns/shop/sa/orders');
make_leaf('web', 'ca', 'URI:spiffe://td.test/ns/shop/sa/web');
make_leaf('cart', 'ca', 'URI:spiffe://td.test/ns/shop/sa/cart');
make_leaf('admin', 'ca', 'URI:spiffe://td.test/ns/ops/sa/admin');
make_leaf('shop', 'ca', 'URI:spiffe://td.test/ns/shop');
make_leaf('rogue', 'other-ca', 'URI:spiffe://td.test/ns/shop/sa/web');
make_leaf('nosan', 'ca', 'DNS:web.test');

$ENV{TEST_NGINX_MESH_PORT} //= free_port();
$ENV{TEST_NGINX_BACKEND_PORT} //= free_port($ENV{TEST_NGINX_MESH_PORT});

our $HttpConfig = <<'_EOC_';
    ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-authz/server.crt;
    ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-authz/server.key;
    ssl_client_certificate $TEST_NGINX_SERVER_ROOT.pki-authz/ca.crt;
    ssl_verify_client optional_no_ca;

    mesh_trust_domain td.test;
    mesh_trust_bundle td.test $TEST_NGINX_SERVER_ROOT.pki-authz/ca.crt;
    mesh_mtls permissive;

    server {
        listen 127.0.0.1:$TEST_NGINX_BACKEND_PORT;

        location / {
            return 200 "backend: $request_method $uri\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config',
                      "listen 127.0.0.1:\$TEST_NGINX_MESH_PORT ssl;\n"
                      . $block->config)
        if defined $block->config;
});

END {
    remove_tree($Pki) if $ENV{TEST_NGINX_RANDOMIZE};
}

# nginx -t: what it refuses, naming the directive and the value

my @bad = (
    ['mesh_allow spiffe://TD.test/ns/a;',
     'invalid caller pattern "spiffe://TD.test/ns/a" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/;',
     'invalid caller pattern "spiffe://td.test/" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test;',
     'invalid caller pattern "spiffe://td.test" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/ns/;',
     'invalid caller pattern "spiffe://td.test/ns/" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/ns/../x;',
     'invalid caller pattern "spiffe://td.test/ns/../x" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/ns//x;',
     'invalid caller pattern "spiffe://td.test/ns//x" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/ns%2Fx;',
     'invalid caller pattern "spiffe://td.test/ns%2Fx" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test:443/ns;',
     'invalid caller pattern "spiffe://td.test:443/ns" in "mesh_allow"'],
    ['mesh_allow spiffe://td.test/ns*;',
     'invalid caller pattern "spiffe://td.test/ns*" in "mesh_allow"'],
    ['mesh_deny https://td.test/ns/x;',
     'invalid caller pattern "https://td.test/ns/x" in "mesh_deny"'],
    ['mesh_allow * methods=GET,FETCH;',
     'invalid methods "methods=GET,FETCH" in "mesh_allow"'],
    ['mesh_allow * methods=get;',
     'invalid methods "methods=get" in "mesh_allow"'],
    ['mesh_allow * methods=;', 'invalid methods "methods=" in "mesh_allow"'],
    ['mesh_allow * paths=api/*;',
     'invalid paths "paths=api/*" in "mesh_allow"'],
    ['mesh_allow * paths=/a*b;', 'invalid paths "paths=/a*b" in "mesh_allow"'],
    ['mesh_allow * paths=/a,,/b;',
     'invalid paths "paths=/a,,/b" in "mesh_allow"'],
    ['mesh_deny methods=GET;', '"mesh_deny" needs a caller pattern'],
    ['mesh_service "orders api";',
     'invalid service name "orders api" in "mesh_service"'],
    ['mesh_service orders; mesh_service cart;',
     '"mesh_service" directive is duplicate'],
    ['mesh_default maybe;',
     'invalid value "maybe" in "mesh_default", it must be "allow", "deny" or "audit"'],
    ['mesh_default deny; mesh_default allow;',
     '"mesh_default" directive is duplicate'],
);

for my $case (@bad) {
    my ($directive, $msg) = @$case;

    my ($rc, $out) = nginx_t("server { listen 127.0.0.1:1; $directive }");

    Test::More::isnt($rc, 0, "nginx -t refuses: $directive");
    Test::More::like($out, qr/\[emerg\] (?:\d+#\d+: )?\Q$msg\E.* in \S+nginx\.conf:\d+/,
                     "the message names it: $directive");
}

my ($rc, $out) = nginx_t("mesh_allow *;");
Test::More::like($out, qr/\[emerg\] (?:\d+#\d+: )?"mesh_allow" directive is not allowed here/,
                 'mesh_allow is not an http-level directive');

# the warning: identity rules in a server without "mesh_mtls strict"

($rc, $out, my $conf) = nginx_t(
    "server {\n listen 127.0.0.1:1;\n mesh_service orders;\n"
    . " location / { mesh_allow spiffe://td.test/ns/shop/*; }\n}");

Test::More::is($rc, 0, 'identity rules without strict mTLS: nginx -t passes');
Test::More::like($out, qr/\[warn\] (?:\d+#\d+: )?"mesh_allow" in \Q$conf\E:9 is used without "mesh_mtls strict": callers without a verified identity match no identity rule/,
                 'and warns, naming the directive and where it is');

($rc, $out) = nginx_t(
    "server {\n listen 127.0.0.1:1;\n mesh_mtls strict;"
    . " mesh_trust_domain td.test; mesh_trust_bundle td.test $Pki/ca.crt;\n"
    . " location / { mesh_deny *; }\n}");

Test::More::is($rc, 0, 'identity rules with strict mTLS: nginx -t passes');
Test::More::unlike($out, qr/\[warn\]/, 'without a warning');

($rc, $out) = nginx_t(
    "server {\n listen 127.0.0.1:1;\n mesh_service orders;\n"
    . " mesh_default allow;\n}");

Test::More::unlike($out, qr/\[warn\]/, 'no rules, no warning');

run_tests();

__DATA__

=== TEST 1: an exact ID: that caller only; the others get 403 naming the service
--- config
    location = /t {
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('cart', 'GET /t', 403, 'deny default', main::forbidden('orders', '/t'));
main::check('admin', 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- response_headers
Content-Type: application/problem+json
X-Authz: deny default
--- response_body eval
main::forbidden('orders', '/t')
--- no_error_log
[error]
[alert]



=== TEST 2: a prefix pattern matches the IDs under it, not the prefix itself
--- config
    location = /t {
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('cart', 'GET /t', 200, 'allow config:1');
main::check('shop', 'GET /t', 403, 'deny default');
main::check('admin', 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 3: "*" is any verified ID; another CA's certificate, a certificate without a SPIFFE ID and no certificate are not
--- config
    location = /t {
        mesh_service orders;
        mesh_allow *;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('admin', 'GET /t', 200, 'allow config:1');
main::check('rogue', 'GET /t', 403, 'deny default', main::forbidden('orders', '/t'));
main::check('nosan', 'GET /t', 403, 'deny default');
main::check(undef, 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- response_headers
X-Authz: deny default
--- error_log
mesh: a caller without a verified identity may not call "orders" (deny default)
--- no_error_log
[error]
[alert]



=== TEST 4: a matching deny wins over a matching allow, whatever their order
--- config
    location = /t {
        mesh_service orders;
        mesh_allow *;
        mesh_deny spiffe://td.test/ns/shop/sa/cart spiffe://td.test/ns/ops/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
    location = /u {
        mesh_service orders;
        mesh_deny spiffe://td.test/ns/shop/sa/cart;
        mesh_allow spiffe://td.test/ns/shop/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('cart', 'GET /t', 403, 'deny config:2', main::forbidden('orders', '/t'));
main::check('admin', 'GET /t', 403, 'deny config:2');
main::check('web', 'GET /u', 200, 'allow config:2');
main::check('cart', 'GET /u', 403, 'deny config:1');
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 5: mesh_service without rules: the default is deny
--- config
    location = /t {
        mesh_service orders;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 403, 'deny default', main::forbidden('orders', '/t'));
--- request
GET /t
--- error_code: 403
--- response_headers
X-Authz: deny default
--- no_error_log
[error]
[alert]



=== TEST 6: mesh_default allow with deny rules only; "mesh_deny *" does not match a caller without an identity
--- config
    location = /t {
        mesh_service orders;
        mesh_default allow;
        mesh_deny spiffe://td.test/ns/ops/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
    location = /all {
        mesh_service orders;
        mesh_default allow;
        mesh_deny *;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow default');
main::check('admin', 'GET /t', 403, 'deny config:1');
main::check('web', 'GET /all', 403, 'deny config:1');
main::check('rogue', 'GET /all', 200, 'allow default');
main::check(undef, 'GET /all', 200, 'allow default');
--- request
GET /all
--- error_code: 200
--- response_headers
X-Authz: allow default
--- no_error_log
[error]
[alert]



=== TEST 7: with allow rules, a caller without a verified identity is denied whatever the default
--- config
    location = /t {
        mesh_service orders;
        mesh_default allow;
        mesh_allow *;
        mesh_deny spiffe://td.test/ns/ops/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('rogue', 'GET /t', 403, 'deny default');
main::check('nosan', 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- response_headers
X-Authz: deny default
--- no_error_log
[error]
[alert]



=== TEST 8: mesh_default audit without allow rules: every caller passes, logged and counted
--- config
    location = /t {
        mesh_service orders;
        mesh_default audit;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'audit default');
main::check('cart', 'GET /t', 200, 'audit default');
--- request
GET /t
--- error_code: 200
--- response_headers
X-Authz: audit default
--- error_log eval
qr/\[warn\] .*mesh: audit: a caller without a verified identity calling "orders" would be denied \(default\), 3 so far/
--- no_error_log
[error]
[alert]



=== TEST 9: mesh_default audit with allow rules: the others pass, logged; an explicit deny still denies
--- config
    location = /t {
        mesh_service orders;
        mesh_default audit;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        mesh_deny spiffe://td.test/ns/ops/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('cart', 'GET /t', 200, 'audit default');
main::check('admin', 'GET /t', 403, 'deny config:2');
--- request
GET /t
--- error_code: 200
--- response_headers
X-Authz: audit default
--- error_log eval
qr/\[warn\] .*mesh: audit: a caller without a verified identity calling "orders" would be denied \(default\), 2 so far/
--- no_error_log
[error]
[alert]



=== TEST 10: methods= and paths= narrow a rule: exact paths and prefixes
--- config
    location / {
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/* methods=GET,HEAD paths=/api/*,/health;
        mesh_allow spiffe://td.test/ns/shop/sa/cart methods=POST,DELETE paths=/api/cart/*;
        add_header X-Authz $mesh_authz always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT;
    }
--- init
main::check('web', 'GET /api/items', 200, 'allow config:1', "backend: GET /api/items\n");
main::check('web', 'HEAD /api/items', 200, 'allow config:1');
main::check('web', 'GET /api/', 200, 'allow config:1');
main::check('web', 'GET /health', 200, 'allow config:1');
main::check('web', 'GET /healthz', 403, 'deny default');
main::check('web', 'GET /apix', 403, 'deny default');
main::check('web', 'POST /api/items', 403, 'deny default');
main::check('web', 'POST /api/cart/1', 403, 'deny default');
main::check('cart', 'POST /api/cart/1', 200, 'allow config:2', "backend: POST /api/cart/1\n");
main::check('cart', 'DELETE /api/cart/1', 200, 'allow config:2');
main::check('cart', 'PUT /api/cart/1', 403, 'deny default');
main::check('cart', 'GET /api/cart/1', 200, 'allow config:1');
--- request
GET /api/items
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 11: paths= matches the normalized URI, not the encoded request line
--- config
    location / {
        mesh_service orders;
        mesh_allow * paths=/public/*;
        mesh_deny * paths=/public/admin/*;
        add_header X-Authz $mesh_authz always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT;
    }
--- init
main::check('web', 'GET /public/a', 200, 'allow config:1');
main::check('web', 'GET /public/admin/x', 403, 'deny config:2');
main::check('web', 'GET /public/%61dmin/x', 403, 'deny config:2');
main::check('web', 'GET /public/x/../admin/x', 403, 'deny config:2');
main::check('web', 'GET /public/../private', 403, 'deny default');
--- request
GET /public/a
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 12: a level with rules of its own replaces the server's; without, it inherits them
--- config
    mesh_service orders;
    mesh_allow spiffe://td.test/ns/shop/sa/web;

    location = /inherits {
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
    location = /own {
        mesh_allow spiffe://td.test/ns/shop/sa/cart;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
    location = /other {
        mesh_service payments;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /inherits', 200, 'allow config:1');
main::check('cart', 'GET /inherits', 403, 'deny default');
main::check('web', 'GET /own', 403, 'deny default');
main::check('cart', 'GET /own', 200, 'allow config:1');
main::check('cart', 'GET /other', 403, 'deny default', main::forbidden('payments', '/other'));
main::check('web', 'GET /other', 200, 'allow config:1');
--- request
GET /own
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 13: a location without mesh directives is not checked; $mesh_authz is empty there
--- config
    location = /t {
        mesh_service orders;
        mesh_allow *;
        empty_gif;
    }
    location = /open {
        add_header X-Authz "[$mesh_authz]" always;
        empty_gif;
    }
--- init
main::check(undef, 'GET /open', 200, '[]');
--- request
GET /open
--- error_code: 200
--- response_headers
X-Authz: []
--- no_error_log
[error]
[alert]



=== TEST 14: a request is decided once: an internal redirect keeps the verdict of the location it first reached
--- config
    location = /t {
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        error_page 404 = /fallback;
        proxy_intercept_errors on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT/missing;
    }
    location = /fallback {
        mesh_service admin;
        mesh_allow spiffe://td.test/ns/ops/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- http_config eval
$::HttpConfig =~ s{return 200 "backend}{if (\$uri = /missing) { return 404; }\n            return 200 "backend}r
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('admin', 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 15: satisfy any: a call a rule allows satisfies it; a mesh denial is final
--- config
    location = /t {
        satisfy any;
        deny all;
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
    location = /u {
        satisfy any;
        allow 127.0.0.1;
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 200, 'allow config:1');
main::check('cart', 'GET /t', 403, 'deny default', main::forbidden('orders', '/t'));
main::check('cart', 'GET /u', 403, 'deny default');
--- request
GET /u
--- error_code: 403
--- response_body eval
main::forbidden('orders', '/u')
--- no_error_log
[error]
[alert]



=== TEST 16: where mesh_mtls is off, no caller has an identity: the rules match none
--- config
    location = /t {
        mesh_mtls off;
        mesh_service orders;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
main::check('web', 'GET /t', 403, 'deny default');
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]
