# Outbound identity: mesh_upstream_id makes nginx refuse a TLS upstream
# unless its certificate is an X.509-SVID, verified to mesh_trust_bundle,
# whose SPIFFE ID matches a pattern (exact, prefix "/*", "*"): 502 and an
# error log line naming the ID it got.  The check runs in the handshake,
# before the request is sent; kept-alive connections are checked again.
#
# nginx presents its own SVID (proxy_ssl_certificate) to the upstream
# services, which run mesh_mtls strict and echo the caller's ID.
#
#   prove -I t/lib t/073-mesh-upstream-id.t

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Pki;

use File::Path qw(remove_tree);
use IO::Socket::INET ();

our $Pki = server_root() . '.pki-up';

pki();

ca('ca');
ca('other-ca');

leaf('gateway', san => 'URI:spiffe://example.org/ns/mesh/sa/gateway');
leaf('orders', san => 'URI:spiffe://example.org/ns/shop/sa/orders, '
                      . 'DNS:localhost');
leaf('rogue', san => 'URI:spiffe://example.org/ns/evil/sa/x, DNS:localhost');
leaf('no-uri', san => 'DNS:localhost');
leaf('foreign', san => 'URI:spiffe://example.org/ns/shop/sa/orders, '
                       . 'DNS:localhost', ca => 'other-ca');

our $Upstream = <<'_EOC_';
        ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-up/leaf.key;
        mesh_mtls strict;

        location / {
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer $mesh_peer_id;
        }
_EOC_

our $HttpConfig = <<"_EOC_";
    mesh_trust_bundle example.org \$TEST_NGINX_SERVER_ROOT.pki-up/ca.crt;

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/orders.crt;
$Upstream
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/rogue.crt;
$Upstream
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/no-uri.crt;
$Upstream
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_4 ssl;
        ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/foreign.crt;
$Upstream
    }

    upstream orders {
        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        keepalive 4;
    }

    proxy_ssl_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/gateway.crt;
    proxy_ssl_certificate_key \$TEST_NGINX_SERVER_ROOT.pki-up/leaf.key;
    proxy_ssl_verify on;
    proxy_ssl_trusted_certificate \$TEST_NGINX_SERVER_ROOT.pki-up/ca.crt;
    proxy_ssl_name localhost;
_EOC_

our $Config = <<'_EOC_';
    location = /echo {
        return 200 "caller=$http_x_peer\n";
    }

    location = /exact {
        mesh_upstream_id spiffe://example.org/ns/shop/sa/orders;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /prefix {
        mesh_upstream_id spiffe://example.org/ns/shop/*;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /domain {
        mesh_upstream_id spiffe://example.org/*;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /any {
        mesh_upstream_id *;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /either {
        mesh_upstream_id spiffe://example.org/ns/pay/sa/api
                         spiffe://example.org/ns/shop/sa/orders;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /mismatch {
        mesh_upstream_id spiffe://example.org/ns/shop/sa/orders;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }

    location = /prefix-mismatch {
        mesh_upstream_id spiffe://example.org/ns/shop/*;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }

    location = /prefix-itself {
        mesh_upstream_id spiffe://example.org/ns/shop/sa/orders/*;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /no-uri {
        mesh_upstream_id *;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    location = /foreign {
        mesh_upstream_id *;
        proxy_ssl_verify off;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }

    location = /unchecked {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }

    location = /keepalive {
        mesh_upstream_id spiffe://example.org/ns/shop/sa/orders;
        proxy_pass https://orders/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }

    location = /keepalive-other {
        mesh_upstream_id spiffe://example.org/ns/pay/*;
        proxy_pass https://orders/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }

    location = /plain {
        mesh_upstream_id *;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }

    location = /no-reuse {
        mesh_upstream_id *;
        proxy_ssl_session_reuse off;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

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

=== TEST 1: an exact ID that matches: 200, the upstream sees nginx's own SVID
--- request
GET /exact
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 2: a prefix that matches
--- request
GET /prefix
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 3: a whole trust domain
--- request
GET /domain
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 4: any verified ID
--- request
GET /any
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 5: one of two patterns
--- request
GET /either
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 6: another ID: 502, the log names the ID it got
--- request
GET /mismatch
--- error_code: 502
--- error_log
mesh_upstream_id refused the upstream: its SPIFFE ID "spiffe://example.org/ns/evil/sa/x" does not match
--- no_error_log
[alert]
[crit]



=== TEST 7: an ID outside the prefix: 502
--- request
GET /prefix-mismatch
--- error_code: 502
--- error_log
mesh_upstream_id refused the upstream: its SPIFFE ID "spiffe://example.org/ns/evil/sa/x" does not match
--- no_error_log
[alert]
[crit]



=== TEST 8: a prefix does not match the ID it is made of
--- request
GET /prefix-itself
--- error_code: 502
--- error_log
mesh_upstream_id refused the upstream: its SPIFFE ID "spiffe://example.org/ns/shop/sa/orders" does not match
--- no_error_log
[alert]
[crit]



=== TEST 9: an upstream certificate without a SPIFFE ID: 502
--- request
GET /no-uri
--- error_code: 502
--- error_log
mesh_upstream_id refused the upstream: its certificate is no valid SVID: no URI SAN
--- no_error_log
[alert]
[crit]



=== TEST 10: an upstream SVID from another CA, even with proxy_ssl_verify off: 502
--- request
GET /foreign
--- error_code: 502
--- error_log
mesh_upstream_id refused the upstream: its certificate is no valid SVID: unable to get local issuer certificate, SPIFFE ID "spiffe://example.org/ns/shop/sa/orders"
[crit]
--- no_error_log
[alert]



=== TEST 11: without mesh_upstream_id nothing is checked
--- request
GET /unchecked
--- error_code: 200
--- response_body
caller=spiffe://example.org/ns/mesh/sa/gateway
--- no_error_log
[error]
[alert]



=== TEST 12: a kept-alive upstream connection serves a second request
--- request eval
["GET /keepalive", "GET /keepalive"]
--- error_code eval
[200, 200]
--- response_body eval
["caller=spiffe://example.org/ns/mesh/sa/gateway\n",
 "caller=spiffe://example.org/ns/mesh/sa/gateway\n"]
--- no_error_log
[error]
[alert]



=== TEST 13: a kept-alive connection is checked again for another location
--- init
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => main::server_port())
    or die "connect: $!\n";
print $s "GET /keepalive HTTP/1.0\r\nHost: localhost\r\n\r\n";
local $/;
my $got = <$s>;
die "GET /keepalive: $got\n" unless $got =~ m{^HTTP/1\.1 200 };
--- request
GET /keepalive-other
--- error_code: 502
--- error_log
mesh_upstream_id refused a kept-alive upstream connection whose SPIFFE ID "spiffe://example.org/ns/shop/sa/orders" does not match
--- no_error_log
[alert]
[crit]



=== TEST 14: mesh_upstream_id on a plain HTTP upstream: 500, logged
--- request
GET /plain
--- error_code: 500
--- error_log
mesh_upstream_id needs the upstream to be proxied over TLS with proxy_ssl_session_reuse on
--- no_error_log
[alert]



=== TEST 15: mesh_upstream_id with proxy_ssl_session_reuse off: 500, logged
--- request
GET /no-reuse
--- error_code: 500
--- error_log
mesh_upstream_id needs the upstream to be proxied over TLS with proxy_ssl_session_reuse on
--- no_error_log
[alert]



=== TEST 16: an invalid pattern fails nginx -t
--- config
    location = /t {
        mesh_upstream_id spiffe://example.org/ns/*/sa;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- must_die
--- error_log
invalid SPIFFE ID pattern "spiffe://example.org/ns/*/sa": an invalid character in the path
[emerg]



=== TEST 17: an uppercase pattern fails nginx -t
--- config
    location = /t {
        mesh_upstream_id spiffe://Example.org/*;
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- must_die
--- error_log
invalid SPIFFE ID pattern "spiffe://Example.org/*": an uppercase letter in the trust domain
[emerg]
