# East-west limits (issue 6): mesh_limit per caller (per=source, one count
# across every service of this nginx) and per edge (per=edge, caller and
# service), counted in the limiter of the APIM plans, exact across two
# workers; 429 with Retry-After, the RateLimit headers and the problem
# body of the APIM module; rates set on store edges with apimctl, seen on
# the next request; and what nginx -t refuses.
#
# Real mTLS as in t/075-mesh-authz.t (CA and SVIDs made with openssl
# beside the server root, calls with IO::Socket::SSL from --- init).  The
# limiter's counts outlive a block in the store, so each block calls with
# SVIDs or services of its own.
#
#   prove -I t/lib t/077-mesh-limit.t   (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Mtls;

use File::Path qw(make_path remove_tree);

master_on();
workers(2);
no_root_location();

our $Pki = server_root() . '.pki-limit';
our $Store = server_root() . '.store-mesh-limit';

# the 429 body

sub too_many {
    my ($service, $instance) = @_;

    my $detail = $service
        ? qq(The caller's rate limit for service \\"$service\\" is exceeded; retry in 1 s.)
        : q(The caller's rate limit is exceeded; retry in 1 s.);

    return '{"type":"https://iana.org/assignments/http-problem-types'
           . '#quota-exceeded","title":"Too Many Requests","status":429,'
           . qq("detail":"$detail","instance":"$instance",)
           . qq("violated-policies":["rate"]}\n);
}

# calls in a row: the statuses, joined by spaces

sub statuses {
    my ($svid, @requests) = @_;

    return join ' ', map { (call($svid, $_))[0] } @requests;
}

remove_tree($Pki, $Store);
make_path($Pki);

make_ca('ca');
make_leaf('server', 'ca', 'DNS:localhost');

for my $name (qw(web cart edge1 edge2 edge3 redir src1 src2 pool live1 live2 live3)) {
    make_leaf($name, 'ca', "URI:spiffe://td.test/ns/shop/sa/$name");
}

$ENV{TEST_NGINX_MESH_PORT} //= free_port();

# nginx -t: mesh_limit needs apim_store, and a well-formed rate

my ($rc, $out, $conf) = nginx_t(
    "server {\n listen 127.0.0.1:1;\n mesh_mtls strict;"
    . " mesh_trust_domain td.test; mesh_trust_bundle td.test $Pki/ca.crt;\n"
    . " mesh_limit * rate=10r/s;\n}");

Test::More::isnt($rc, 0, 'mesh_limit without apim_store: nginx -t fails');
Test::More::like($out, qr/\[emerg\] (?:\d+#\d+: )?"mesh_limit" in \Q$conf\E:9 needs "apim_store" in the http block/,
                 'naming the directive and where it is');

my @bad = (
    ['mesh_limit * rate=10;',
     'invalid rate "rate=10" in "mesh_limit", it must look like "10r/s" or "100r/m"'],
    ['mesh_limit * rate=0r/s;', 'invalid rate "rate=0r/s" in "mesh_limit"'],
    ['mesh_limit * burst=5;', '"mesh_limit" needs rate=, such as "rate=10r/s"'],
    ['mesh_limit * rate=1r/s burst=x;', 'invalid burst "burst=x" in "mesh_limit"'],
    ['mesh_limit * rate=1r/s per=caller;',
     'invalid parameter "per=caller" in "mesh_limit"'],
    ['mesh_limit spiffe://td/ rate=1r/s;',
     'invalid caller pattern "spiffe://td/" in "mesh_limit"'],
    ['mesh_limit *;', 'invalid number of arguments in "mesh_limit" directive'],
);

for my $case (@bad) {
    my ($directive, $msg) = @$case;

    ($rc, $out) = nginx_t("apim_store $Store.t;\n"
                          . "server { listen 127.0.0.1:1; $directive }");

    Test::More::isnt($rc, 0, "nginx -t refuses: $directive");
    Test::More::like($out, qr/\[emerg\] (?:\d+#\d+: )?\Q$msg\E.* in \S+nginx\.conf:\d+/,
                     "the message names it: $directive");
}

remove_tree("$Store.t");

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-mesh-limit;

    ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-limit/server.crt;
    ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-limit/server.key;
    ssl_client_certificate $TEST_NGINX_SERVER_ROOT.pki-limit/ca.crt;
    ssl_verify_client optional_no_ca;

    mesh_trust_domain td.test;
    mesh_trust_bundle td.test $TEST_NGINX_SERVER_ROOT.pki-limit/ca.crt;
    mesh_mtls permissive;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config',
                      "listen 127.0.0.1:\$TEST_NGINX_MESH_PORT ssl reuseport;\n"
                      . $block->config)
        if defined $block->config;
});

END {
    remove_tree($Pki, $Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: per=edge: one count per caller and service; 429 with Retry-After, RateLimit headers and the problem body
--- config
    mesh_limit spiffe://td.test/ns/shop/* rate=2r/s burst=1 per=edge;
    mesh_allow *;

    location = /a {
        mesh_service orders;
        empty_gif;
    }
    location = /b {
        mesh_service payments;
        empty_gif;
    }
--- init
my @r = map { [main::call('edge1', 'GET /a')] } 1 .. 3;

Test::More::is(join(' ', map { $_->[0] } @r), '200 200 429',
               'edge1 to orders: two pass, the third is refused');
Test::More::is($r[2][1]{'ratelimit-policy'}, '"rate";q=2;w=1',
               'RateLimit-Policy on the 429');
Test::More::is(join(' | ', map { $_->[1]{ratelimit} // 'none' } @r),
               'none | none | "rate";r=0;t=1',
               'RateLimit on the 429 only (mesh_limit_headers reject)');
Test::More::is($r[2][1]{'retry-after'}, '1', 'Retry-After');
Test::More::is($r[1][1]{'retry-after'}, undef, 'no Retry-After on a 200');
Test::More::is($r[2][1]{'content-type'}, 'application/problem+json',
               'the 429 is a problem');
Test::More::is($r[2][2], main::too_many('orders', '/a'), 'the 429 body');

Test::More::is(main::statuses('edge1', 'GET /b', 'GET /b', 'GET /b'),
               '200 200 429', 'edge1 to payments: a count of its own');
Test::More::is(main::statuses('edge2', 'GET /a', 'GET /a'), '200 200',
               'edge2 to orders: a count of its own');
Test::More::is(main::statuses('web', 'GET /a'), '200',
               'web, in the pattern, counted apart');
--- request
GET /a
--- error_code: 403
--- response_headers
RateLimit-Policy:
RateLimit:
--- no_error_log
[error]
[alert]



=== TEST 2: per=source: one count per caller across every service
--- config
    mesh_allow *;

    location = /a {
        mesh_service orders;
        mesh_limit spiffe://td.test/ns/shop/sa/src1 rate=1r/s burst=2 per=source;
        empty_gif;
    }
    location = /b {
        mesh_service payments;
        mesh_limit spiffe://td.test/ns/shop/sa/src1 rate=1r/s burst=2 per=source;
        empty_gif;
    }
--- init
my @r = map { [main::call('src1', $_)] } 'GET /a', 'GET /b', 'GET /a', 'GET /b';

Test::More::is(join(' ', map { $_->[0] } @r), '200 200 200 429',
               'src1: three pass across two services, the fourth is refused');
Test::More::is($r[3][2], main::too_many(undef, '/b'), 'the 429 body');
Test::More::is(main::statuses('src2', 'GET /a', 'GET /b'), '200 200',
               'src2 is not limited');
--- request
GET /a
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 3: counted across two workers: of 20 calls, exactly 10 pass
--- config
    location = /t {
        mesh_service inventory;
        mesh_allow *;
        mesh_limit * rate=1r/m burst=9;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
my (%status, %workers);

for (1 .. 20) {
    my ($st, $h) = main::call('pool', 'GET /t');
    $status{$st}++;
    $workers{$h->{'x-worker'} // 0}{$st}++;
}

Test::More::is($status{200} // 0, 10, 'exactly 10 calls passed');
Test::More::is($status{429} // 0, 10, 'exactly 10 were refused with 429');
Test::More::is(scalar keys %workers, 2, 'both workers answered')
    or Test::More::diag(join ' ', keys %workers);
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 4: rates set in the store with apimctl: seen on the next call, gone when removed
--- config
    location = /t {
        mesh_service stock;
        mesh_allow spiffe://td.test/ns/shop/*;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
Test::More::is(main::statuses('live1', ('GET /t') x 4), '200 200 200 200',
               'no limit at first');

my $limit = main::apimctl('mesh', 'limit', 'spiffe://td.test/ns/shop/sa/live1',
                          'stock', 'rate=1r/m', 'burst=1');

my @r = map { [main::call('live1', 'GET /t')] } 1 .. 3;

Test::More::is(join(' ', map { $_->[0] } @r), '200 200 429',
               'mesh limit: two pass, the third is refused');
Test::More::is($r[2][1]{'ratelimit-policy'}, '"rate";q=1;w=60',
               'RateLimit-Policy of the edge');
Test::More::is($r[0][1]{'x-authz'}, 'allow config:1',
               'a limit edge decides nothing');
Test::More::is(main::statuses('live2', 'GET /t', 'GET /t'), '200 200',
               'another caller is not limited');

main::apimctl('mesh', 'remove', $limit);

Test::More::is(main::statuses('live1', 'GET /t', 'GET /t'), '200 200',
               'removed: no limit again');

my $allow = main::apimctl('mesh', 'allow', 'spiffe://td.test/ns/shop/sa/live3',
                          'stock', 'rate=1r/m', 'per=source');

@r = map { [main::call('live3', 'GET /t')] } 1 .. 2;

Test::More::is(join(' ', map { $_->[0] } @r), '200 429',
               'mesh allow rate=: allowed, and limited');
Test::More::is($r[0][1]{'x-authz'}, 'allow config:1',
               'the configuration allows first');
Test::More::is($r[1][2], main::too_many(undef, '/t') =~ s/1 s/60 s/r,
               'the 429 body of a per=source limit');

main::apimctl('mesh', 'remove', $allow);
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 5: a store edge's rate wins over mesh_limit for the callers it matches
--- config
    location = /t {
        mesh_service ledger;
        mesh_allow *;
        mesh_limit * rate=100r/s;
        mesh_limit_headers all;
        empty_gif;
    }
--- init
my $r1 = [main::call('cart', 'GET /t')];
Test::More::is($r1->[1]{'ratelimit-policy'}, '"rate";q=100;w=1',
               'mesh_limit applies');

my $limit = main::apimctl('mesh', 'limit', 'spiffe://td.test/ns/shop/sa/cart',
                          'ledger', 'rate=5r/m', 'burst=4');

my $r2 = [main::call('cart', 'GET /t')];
Test::More::is($r2->[1]{'ratelimit-policy'}, '"rate";q=5;w=60',
               'then the edge');

my $r3 = [main::call('web', 'GET /t')];
Test::More::is($r3->[1]{'ratelimit-policy'}, '"rate";q=100;w=1',
               'other callers keep mesh_limit');

main::apimctl('mesh', 'remove', $limit);
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 6: a caller without a verified identity has no ID to count by: mesh_limit does not apply to it
--- config
    location = /t {
        mesh_service open;
        mesh_default allow;
        mesh_limit * rate=1r/m;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
Test::More::is(main::statuses(undef, ('GET /t') x 3), '200 200 200',
               'TLS without a certificate: not counted');
Test::More::is(main::statuses('web', 'GET /t', 'GET /t'), '200 429',
               'a verified caller is');
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_headers eval
["RateLimit-Policy:\nRateLimit:\nX-Authz: allow default",
 "RateLimit-Policy:\nRateLimit:\nX-Authz: allow default"]
--- no_error_log
[error]
[alert]



=== TEST 7: mesh_limit_headers all: every answer of a limited call carries the RateLimit headers, as apim_headers ietf does for keys
--- config
    mesh_allow *;
    mesh_limit spiffe://td.test/ns/shop/* rate=2r/s burst=1 per=edge;

    location = /a {
        mesh_service quotes;
        mesh_limit_headers all;
        empty_gif;
    }
--- init
my @r = map { [main::call('edge3', 'GET /a')] } 1 .. 3;

Test::More::is(join(' ', map { $_->[0] } @r), '200 200 429',
               'two pass, the third is refused');
Test::More::is(join(' | ', map { $_->[1]{'ratelimit-policy'} } @r),
               join(' | ', ('"rate";q=2;w=1') x 3),
               'RateLimit-Policy on every answer');
Test::More::is(join(' | ', map { $_->[1]{ratelimit} } @r),
               '"rate";r=1;t=1 | "rate";r=0;t=1 | "rate";r=0;t=1',
               'RateLimit on every answer');
Test::More::is($r[1][1]{'retry-after'}, undef, 'no Retry-After on a 200');
--- request
GET /a
--- error_code: 403
--- response_headers
RateLimit-Policy:
RateLimit:
--- no_error_log
[error]
[alert]



=== TEST 8: an internal redirect is decided and counted once: $mesh_authz keeps the first verdict
--- config
    mesh_allow *;
    mesh_limit spiffe://td.test/ns/shop/sa/redir rate=1r/m;

    location = /r {
        mesh_service hops;
        try_files /nonexistent /inner;
    }
    location = /inner {
        mesh_service hops;
        add_header X-Authz $mesh_authz always;
        empty_gif;
    }
--- init
my @r = map { [main::call('redir', 'GET /r')] } 1 .. 2;

Test::More::is(join(' ', map { $_->[0] } @r), '200 429',
               'the first call passes both locations with one count');
Test::More::is($r[0][1]{'x-authz'}, 'allow config:1',
               '$mesh_authz after the redirect');
--- request
GET /r
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 9: mesh_limit_headers takes reject or all
--- config
    location = /a {
        mesh_limit_headers some;
        empty_gif;
    }
--- must_die
--- error_log
invalid value "some" in "mesh_limit_headers", it must be "reject" or "all"
