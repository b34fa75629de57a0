# Mesh edges in the store (issue 6): "apimctl mesh allow|deny|limit|list|
# remove" change who may call a service while nginx runs with two workers,
# and both workers see every change on the next request, without a reload;
# store edges and configuration rules are evaluated together, in Istio's
# order; apimctl refuses bad edges.
#
# Real mTLS as in t/075-mesh-authz.t: a CA and SVIDs made with openssl
# beside the server root, the service on a TLS port of its own (reuseport:
# the kernel spreads new connections over the workers), called from
# --- init with IO::Socket::SSL, one connection a request; X-Worker names
# the worker that answered.
#
#   prove -I t/lib t/076-mesh-store-rules.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Mtls;

use File::Path qw(make_path remove_tree);
use File::Temp ();

master_on();
workers(2);
no_root_location();

our $Pki = server_root() . '.pki-store-rules';
our $Store = server_root() . '.store-mesh-rules';
our %Edge;          # name -> edge id

remove_tree($Pki, $Store);
make_path($Pki);

make_ca('ca');
make_leaf('server', 'ca', 'DNS:localhost');
make_leaf('web', 'ca', 'URI:spiffe://td.test/ns/shop/sa/web');
make_leaf('cart', 'ca', 'URI:spiffe://td.test/ns/shop/sa/cart');
make_leaf('admin', 'ca', 'URI:spiffe://td.test/ns/ops/sa/admin');

$ENV{TEST_NGINX_MESH_PORT} //= free_port();

# apimctl's refusals, with exit code 2 (bad usage) or 1 (not found)

my @bad = (
    [2, ['mesh', 'allow', 'spiffe://TD/x', 'orders'],
     'invalid caller pattern "spiffe://TD/x"'],
    [2, ['mesh', 'allow', '*', 'orders api'],
     'invalid service name "orders api"'],
    [2, ['mesh', 'allow', '*'],
     'mesh allow needs a caller pattern and a service'],
    [2, ['mesh', 'allow', '*', 'orders', 'methods=get'],
     'invalid methods "methods=get"'],
    [2, ['mesh', 'allow', '*', 'orders', 'paths=x'],
     'invalid paths "paths=x"'],
    [2, ['mesh', 'allow', '*', 'orders', 'rate=10'],
     'invalid rate "rate=10"'],
    [2, ['mesh', 'allow', '*', 'orders', 'burst=3'], 'burst= needs rate='],
    [2, ['mesh', 'allow', '*', 'orders', 'per=caller'],
     'invalid parameter "per=caller"'],
    [2, ['mesh', 'deny', '*', 'orders', 'rate=1r/s'],
     'mesh deny takes no rate'],
    [2, ['mesh', 'limit', '*', 'orders'], 'mesh limit needs rate='],
    [2, ['mesh', 'grant', '*', 'orders'], 'unknown command "mesh" "grant"'],
    [2, ['mesh'], '"mesh" needs a command'],
    [2, ['mesh', 'remove', 'x1'], 'invalid edge id "x1"'],
    [1, ['mesh', 'remove', '999'], 'mesh edge 999 not found'],
);

for my $case (@bad) {
    my ($code, $args, $msg) = @$case;

    my ($rc, $out, $err) = ctl(@$args);

    Test::More::is($rc, $code, "apimctl @$args: exit $code");
    Test::More::like($err, qr/^apimctl: \Q$msg\E/, "apimctl @$args: message");
    Test::More::is($out, '', "apimctl @$args: nothing on stdout");
}

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-mesh-rules;

    ssl_certificate $TEST_NGINX_SERVER_ROOT.pki-store-rules/server.crt;
    ssl_certificate_key $TEST_NGINX_SERVER_ROOT.pki-store-rules/server.key;
    ssl_client_certificate $TEST_NGINX_SERVER_ROOT.pki-store-rules/ca.crt;
    ssl_verify_client optional_no_ca;

    mesh_trust_domain td.test;
    mesh_trust_bundle td.test $TEST_NGINX_SERVER_ROOT.pki-store-rules/ca.crt;
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

# an edge record nothing can decode, written behind apimctl's back; its id
# is far from those apimctl hands out, as the blocks run in any order

sub damaged_edge {
    my ($service, $id) = @_;

    my $in = File::Temp->new;
    print $in "e:$service\\00$id\njunk\n";
    close $in;

    system('mdb_load', '-s', 'policies', '-T', '-f', $in->filename, $Store) == 0
        or die "mdb_load failed\n";
}

END {
    remove_tree($Pki, $Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: edges added and removed while nginx runs: both workers follow at once
--- config
    location = /t {
        mesh_service orders;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
main::both('web', 'GET /t', 403, 'deny default');

my $allow = main::apimctl('mesh', 'allow', 'spiffe://td.test/ns/shop/*',
                          'orders');
main::both('web', 'GET /t', 200, "allow store:$allow");
main::both('cart', 'GET /t', 200, "allow store:$allow");
main::both('admin', 'GET /t', 403, 'deny default');

my $deny = main::apimctl('mesh', 'deny', 'spiffe://td.test/ns/shop/sa/cart',
                         'orders');
main::both('cart', 'GET /t', 403, "deny store:$deny");
main::both('web', 'GET /t', 200, "allow store:$allow");

Test::More::is(main::apimctl('mesh', 'list', 'orders'),
               "$allow allow spiffe://td.test/ns/shop/* orders\n"
               . "$deny deny spiffe://td.test/ns/shop/sa/cart orders",
               'mesh list orders: both edges, in the order they were made');

Test::More::is(main::apimctl('mesh', 'remove', $allow), $allow,
               'mesh remove prints the id');
main::both('web', 'GET /t', 403, 'deny default');
main::both('cart', 'GET /t', 403, "deny store:$deny");

main::apimctl('mesh', 'remove', $deny);
main::both('cart', 'GET /t', 403, 'deny default');

Test::More::is(main::apimctl('mesh', 'list', 'orders'), '',
               'mesh list orders: none left');
--- request
GET /t
--- error_code: 403
--- response_headers
X-Authz: deny default
--- no_error_log
[error]
[alert]



=== TEST 2: configuration rules and store edges together: any deny denies, either allow allows
--- config
    location / {
        mesh_service catalog;
        mesh_allow spiffe://td.test/ns/shop/sa/web;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
main::both('web', 'GET /t', 200, 'allow config:1');
main::both('admin', 'GET /t', 403, 'deny default');

my $deny = main::apimctl('mesh', 'deny', 'spiffe://td.test/ns/shop/sa/web',
                         'catalog', 'methods=DELETE');
my $admin = main::apimctl('mesh', 'allow', 'spiffe://td.test/ns/ops/*',
                          'catalog', 'paths=/admin/*');
my $other = main::apimctl('mesh', 'allow', '*', 'payments');

main::both('web', 'DELETE /t', 403, "deny store:$deny");
main::both('web', 'GET /t', 200, 'allow config:1');
main::both('admin', 'GET /admin/x', 200, "allow store:$admin");
main::both('admin', 'GET /t', 403, 'deny default');
main::both('cart', 'GET /t', 403, 'deny default');

Test::More::is(main::apimctl('mesh', 'list', 'catalog'),
               "$deny deny spiffe://td.test/ns/shop/sa/web catalog"
               . " methods=DELETE\n"
               . "$admin allow spiffe://td.test/ns/ops/* catalog"
               . " paths=/admin/*",
               'mesh list catalog: its edges, in the order they were made');

Test::More::is(main::apimctl('mesh', 'list', 'payments'),
               "$other allow * payments", 'mesh list payments: its edge');

main::apimctl('mesh', 'remove', $_) for $deny, $admin, $other;
--- request
GET /t
--- error_code: 403
--- no_error_log
[error]
[alert]



=== TEST 3: store edges with methods= and paths=; a store "*" never matches a caller without a verified identity
--- config
    location / {
        mesh_service search;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
my $get = main::apimctl('mesh', 'allow', 'spiffe://td.test/ns/shop/sa/cart',
                        'search', 'methods=GET,HEAD', 'paths=/api/*,/ping');
main::both('cart', 'GET /api/q', 200, "allow store:$get");
main::both('cart', 'GET /ping', 200, "allow store:$get");
main::both('cart', 'GET /pingx', 403, 'deny default');
main::both('cart', 'POST /api/q', 403, 'deny default');
main::both('web', 'GET /api/q', 403, 'deny default');

$main::Edge{any} = main::apimctl('mesh', 'deny', '*', 'search',
                                 'paths=/private/*');
main::both('cart', 'GET /private/x', 403, "deny store:$main::Edge{any}");
main::both(undef, 'GET /api/q', 403, 'deny default');
main::both(undef, 'GET /private/x', 403, 'deny default');

main::apimctl('mesh', 'remove', $_) for $get, $main::Edge{any};
--- request
GET /private/x
--- error_code: 403
--- response_headers
X-Authz: deny default
--- response_body
{"type":"https://nginx-apim.dev/problems/mesh-forbidden","title":"Forbidden","status":403,"detail":"The caller may not call service \"search\".","instance":"/private/x"}
--- no_error_log
[error]
[alert]



=== TEST 4: a service without edges in a store that holds others' costs at most one seek and decides by the configuration
--- config
    location / {
        mesh_service quiet;
        mesh_allow *;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
main::both('web', 'GET /x', 200, 'allow config:1');
main::both('admin', 'GET /x', 200, 'allow config:1');
--- request
GET /x
--- error_code: 403
--- response_headers
X-Authz: deny default
--- no_error_log
[error]
[alert]



=== TEST 5: an edge that cannot be read might be a deny: the service answers 503, other services go on
--- config
    location = /t {
        mesh_service broken;
        mesh_allow *;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
    location = /ok {
        mesh_service fine;
        mesh_allow *;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
main::damaged_edge('broken', '9000000001');

main::both('web', 'GET /t', 503, 'deny store-error');
main::both('web', 'GET /ok', 200, 'allow config:1');

my ($rc, $out, $err) = main::ctl('mesh', 'list', 'broken');
Test::More::is($rc, 1, 'mesh list of a damaged edge: exit 1');
Test::More::is($err, "apimctl: 1 damaged mesh edges skipped\n",
               'mesh list names the damage');
--- request
GET /t
--- error_code: 503
--- response_headers
Content-Type: application/problem+json
X-Authz: deny store-error
--- response_body
{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The API gateway's store cannot answer now; try again later.","instance":"/t"}
--- no_error_log
[alert]



=== TEST 6: a damaged edge goes with "mesh remove" of the id in its key; the service then decides by the configuration again
--- config
    location = /t {
        mesh_service gone;
        mesh_allow *;
        add_header X-Authz $mesh_authz always;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
main::damaged_edge('gone', '9000000002');

main::both('web', 'GET /t', 503, 'deny store-error');

Test::More::is(main::apimctl('mesh', 'remove', '9000000002'), '9000000002',
               'mesh remove of the damaged edge prints its id');

my ($rc, $out, $err) = main::ctl('mesh', 'list', 'gone');
Test::More::is("$rc $out $err", '0  ', 'mesh list: nothing left, no damage');

main::both('web', 'GET /t', 200, 'allow config:1');
--- request
GET /t
--- error_code: 403
--- response_headers
X-Authz: deny default
--- error_log
a mesh edge of the store cannot be read
--- no_error_log
[alert]
