# SPIFFE identity over mTLS: mesh_mtls strict, permissive and off; the
# $mesh_peer_* variables; plain HTTP; location-level modes; nginx's own
# ssl_verify_client beside mesh_mtls; a keep-alive connection's later
# requests.
#
# A CA and the SVIDs are made with openssl when the suite starts, beside the
# server root.  Clients: nginx itself (the default server proxies
# /MODE/NAME over TLS presenting NAME.crt), and IO::Socket::SSL for two
# requests on one TLS connection.  Each TLS server proxies to /echo, which
# answers with the variables it was told.
#
#   prove -I t/lib t/070-mesh-identity.t

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Pki;

use File::Path qw(remove_tree);
use IO::Socket::INET ();
use IO::Socket::SSL ();

our $Pki = server_root() . '.pki-id';

pki();

ca('ca');
leaf('server', san => 'URI:spiffe://example.org/ns/mesh/sa/server');
leaf('web', san => 'URI:spiffe://example.org/ns/shop/sa/web');
leaf('expired', san => 'URI:spiffe://example.org/ns/shop/sa/web',
     from => -7200, to => -3600);
leaf('no-uri', san => 'DNS:web.example.org');

# one TLS request with IO::Socket::SSL: GET each path on one connection,
# presenting NAME.crt; returns the responses' bodies

sub tls_get {
    my ($port, $name, @paths) = @_;

    my $sock = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $port,
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER(),
        SSL_ca_file => "$Pki/ca.crt", SSL_verifycn_scheme => 'none',
        SSL_cert_file => "$Pki/$name.crt", SSL_key_file => "$Pki/leaf.key",
    ) or die "TLS connect to $port: $IO::Socket::SSL::SSL_ERROR\n";

    my @bodies;

    for my $path (@paths) {
        print $sock "GET $path HTTP/1.1\r\nHost: mesh\r\n\r\n";

        my ($head, $len) = ('', 0);

        while (defined(my $line = <$sock>)) {
            last if $line eq "\r\n";
            $head .= $line;
            $len = $1 if $line =~ /^Content-Length: (\d+)/i;
        }

        read($sock, my $body, $len) == $len or die "short body\n";
        push @bodies, ($head =~ m{^HTTP/1\.1 (\d+)})[0] . " $body";
    }

    close $sock;

    return @bodies;
}

# a port for IO::Socket::SSL to reach nginx on directly

our $Direct = do {
    my $port;

    # at random below the ephemeral range, as t/helpers/ApimTest/Mtls.pm
    for (1 .. 1000) {
        my $try = 2000 + int rand(30000);
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $try) or next;
        $port = $try;
        last;
    }

    $port // die "no free port\n";
};

our $Echo = <<'_EOC_';
        location / {
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer "id=$mesh_peer_id td=$mesh_peer_trust_domain path=$mesh_peer_path verified=$mesh_peer_verified requests=$connection_requests";
        }
_EOC_

our $Tls = <<'_EOC_';
        ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-id/server.crt;
        ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-id/leaf.key;
_EOC_

our $HttpConfig = <<"_EOC_";
    mesh_trust_domain example.org;
    mesh_trust_bundle example.org \$TEST_NGINX_SERVER_ROOT.pki-id/ca.crt;

    map \$mode \$mesh_port {
        strict          \$TEST_NGINX_RAND_PORT_1;
        permissive      \$TEST_NGINX_RAND_PORT_2;
        off             \$TEST_NGINX_RAND_PORT_3;
        no-ca           \$TEST_NGINX_RAND_PORT_4;
        verify-on       \$TEST_NGINX_RAND_PORT_5;
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name strict;
$Tls
        mesh_mtls strict;
$Echo
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2 ssl;
        server_name permissive;
$Tls
        mesh_mtls permissive;
$Echo
        location /x/strict/ {
            mesh_mtls strict;
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer "id=\$mesh_peer_id";
        }

        location /x/strict-authz/ {
            mesh_mtls strict;
            mesh_service orders;
            mesh_allow spiffe://example.org/ns/shop/*;
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT;
            proxy_set_header X-Peer "id=\$mesh_peer_id \$mesh_authz";
        }
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_3 ssl;
        server_name off;
$Tls
        mesh_mtls off;
$Echo
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_4 ssl;
        server_name no-ca;
$Tls
        ssl_verify_client optional_no_ca;
        mesh_mtls strict;
$Echo
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_5 ssl;
        server_name verify-on;
$Tls
        ssl_verify_client on;
        ssl_client_certificate \$TEST_NGINX_SERVER_ROOT.pki-id/ca.crt;
        mesh_mtls strict;
$Echo
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_6;
        server_name plain;

        mesh_mtls permissive;
$Echo
        location /strict/ {
            mesh_mtls strict;
            rewrite ^ /echo break;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT;
        }
    }

    server {
        listen 127.0.0.1:$Direct ssl;
        server_name direct;
$Tls
        mesh_mtls strict;
$Echo
    }

    upstream keepalive {
        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        keepalive 2;
    }
_EOC_

our $Config = <<'_EOC_';
    location = /echo {
        return 200 "$http_x_peer\n";
    }

    location ~ ^/(?<mode>[a-z-]+)/nocert(?<rest>/.*)?$ {
        rewrite ^ /x$rest break;
        proxy_pass https://127.0.0.1:$mesh_port;
        proxy_ssl_session_reuse off;
    }

    location ~ ^/(?<mode>[a-z-]+)/(?<svid>[a-z-]+)(?<rest>/.*)?$ {
        rewrite ^ /x$rest break;
        proxy_pass https://127.0.0.1:$mesh_port;
        proxy_ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-id/$svid.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-id/leaf.key;
        proxy_ssl_session_reuse off;
    }

    location ^~ /plain/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_6/;
    }

    location = /keepalive {
        proxy_pass https://keepalive/x;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-id/web.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-id/leaf.key;
        proxy_ssl_session_reuse off;
    }
_EOC_

sub problem {
    my ($instance) = @_;

    return '{"type":"https://nginx-apim.dev/problems/mesh-identity",'
        . '"title":"Forbidden","status":403,"detail":"This service accepts '
        . 'only callers with a verified SPIFFE identity (an X.509-SVID '
        . 'client certificate).","instance":"' . $instance . '"}' . "\n";
}

our $Web = 'id=spiffe://example.org/ns/shop/sa/web td=example.org '
           . 'path=/ns/shop/sa/web verified=on';
our $None = 'id= td= path= verified=off';

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

=== TEST 1: strict: a valid SVID passes; the variables hold its ID
--- request
GET /strict/web
--- error_code: 200
--- response_body eval
"$main::Web requests=1\n"
--- no_error_log
[error]
[alert]
refused



=== TEST 2: strict: no client certificate: 403
--- request
GET /strict/nocert
--- error_code: 403
--- response_headers
Content-Type: application/problem+json
--- response_body eval
main::problem('/echo')
--- error_log
mesh_mtls strict refused the request: no client certificate
--- no_error_log
[error]
[alert]



=== TEST 3: strict: an expired SVID: 403, the reason at [info]
--- request
GET /strict/expired
--- error_code: 403
--- response_body eval
main::problem('/echo')
--- error_log eval
qr/\[info\] .* mesh: client certificate refused: certificate has expired/
--- no_error_log
[error]
[alert]



=== TEST 4: permissive: a valid SVID passes with its ID
--- request
GET /permissive/web
--- error_code: 200
--- response_body eval
"$main::Web requests=1\n"
--- no_error_log
[error]
[alert]
refused



=== TEST 5: permissive: no client certificate passes without an identity
--- request
GET /permissive/nocert
--- error_code: 200
--- response_body eval
"$main::None requests=1\n"
--- no_error_log
[error]
[alert]
refused



=== TEST 6: permissive: a bad SVID passes without an identity; the reason is logged
--- request
GET /permissive/no-uri
--- error_code: 200
--- response_body eval
"$main::None requests=1\n"
--- error_log
mesh: client certificate refused: no URI SAN
--- no_error_log
[error]
[alert]



=== TEST 7: permissive: an expired SVID passes without an identity
--- request
GET /permissive/expired
--- error_code: 200
--- response_body eval
"$main::None requests=1\n"
--- error_log
mesh: client certificate refused: certificate has expired
--- no_error_log
[error]
[alert]



=== TEST 8: a strict location in a permissive server refuses no certificate
--- request
GET /permissive/nocert/strict/
--- error_code: 403
--- response_body eval
main::problem('/echo')
--- error_log
mesh_mtls strict refused the request: no client certificate
--- no_error_log
[error]
[alert]



=== TEST 9: a strict location in a permissive server lets a valid SVID through
--- request
GET /permissive/web/strict/
--- error_code: 200
--- response_body
id=spiffe://example.org/ns/shop/sa/web
--- no_error_log
[error]
[alert]



=== TEST 9b: a strict location with authorization refuses no certificate before any rule (the authorization handler checks for the identity handler)
--- request
GET /permissive/nocert/strict-authz/
--- error_code: 403
--- response_body eval
main::problem('/echo')
--- error_log
mesh_mtls strict refused the request: no client certificate
--- no_error_log
[error]
[alert]
may not call



=== TEST 9c: a strict location with authorization lets a valid SVID through to its rules
--- request
GET /permissive/web/strict-authz/
--- error_code: 200
--- response_body
id=spiffe://example.org/ns/shop/sa/web allow config:1
--- no_error_log
[error]
[alert]



=== TEST 10: off: certificates are ignored, no identity
--- request
GET /off/web
--- error_code: 200
--- response_body eval
"$main::None requests=1\n"
--- no_error_log
[error]
[alert]
refused



=== TEST 11: plain HTTP in a permissive server passes without an identity
--- request
GET /plain/
--- error_code: 200
--- response_body eval
"$main::None requests=1\n"
--- no_error_log
[error]
[alert]



=== TEST 12: plain HTTP in a strict location: 403
--- request
GET /plain/strict/
--- error_code: 403
--- response_body eval
main::problem('/echo')
--- error_log
mesh_mtls strict refused the request: not over TLS
--- no_error_log
[error]
[alert]



=== TEST 13: ssl_verify_client optional_no_ca: a valid SVID passes
--- request
GET /no-ca/web
--- error_code: 200
--- response_body eval
"$main::Web requests=1\n"
--- no_error_log
[error]
[alert]



=== TEST 14: ssl_verify_client optional_no_ca: no certificate: mesh_mtls answers 403
--- request
GET /no-ca/nocert
--- error_code: 403
--- response_body eval
main::problem('/echo')
--- no_error_log
[error]
[alert]



=== TEST 15: ssl_verify_client on: nginx verifies first, a valid SVID passes
--- request
GET /verify-on/web
--- error_code: 200
--- response_body eval
"$main::Web requests=1\n"
--- no_error_log
[error]
[alert]



=== TEST 16: ssl_verify_client on: nginx itself refuses an expired certificate (400)
--- request
GET /verify-on/expired
--- error_code: 400
--- response_body_like: The SSL certificate error
--- error_log
client SSL certificate verify error: (10:certificate has expired)
--- no_error_log
[alert]



=== TEST 17: a keep-alive connection's second request keeps the verified identity
--- request eval
["GET /keepalive", "GET /keepalive"]
--- error_code eval
[200, 200]
--- response_body eval
["$main::Web requests=1\n", "$main::Web requests=2\n"]
--- no_error_log
[error]
[alert]
refused



=== TEST 18: IO::Socket::SSL: two requests on one TLS connection, both verified, the certificate checked once
--- init
my @got = main::tls_get($main::Direct, 'web', '/a', '/b');
Test::More::is($got[0], "200 $main::Web requests=1\n", 'first request');
Test::More::is($got[1], "200 $main::Web requests=2\n", 'second request');
open my $log, '<', main::server_root() . '/logs/error.log' or die "log: $!";
my $checks = grep { /mesh peer: "spiffe:/ } <$log>;
Test::More::is($checks, 1, 'the SVID was checked once for both requests');
--- request
GET /echo
--- error_code: 200
--- no_error_log
[error]
[alert]
