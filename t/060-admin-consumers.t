# The admin API's consumers (issue 4): create, list in pages (stable while
# consumers are added between two pages), show, change, delete (which
# revokes the consumer's keys at once), and every error with its problem
# body; each change logged at notice level.
#
# The store lives beside the server root and is provisioned below with
# apimctl; blocks run in order, each building on the store the one before
# left.
#
#   prove -I t/lib t/060-admin-consumers.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Admin;

use File::Path qw(remove_tree);
use MIME::Base64 ();

our $Store = server_root() . '.store-admin-consumers';

# a consumer's JSON

sub consumer {
    my ($name, $plan, $meta) = @_;

    return { name => $name, id => $Cid, plan => $plan, created => $Time,
             metadata => $meta // {} };
}

# a page of consumers "c00" to "c09": the names expected

sub page {
    my ($next, @names) = @_;

    my %plan = (acme => undef, dora => 'gold', erin => 'gold');

    return { items => [map { consumer($_, exists $plan{$_} ? $plan{$_}
                                                          : 'free') }
                       @names],
             next_cursor => $next };
}

# patterns for no_error_log: a key's text on any line but nginx's own debug
# dump of the request headers

sub unlogged {
    return [map { qr/^(?!.*: \*\d+ http header: ).*\Q$_\E/ } @_];
}

sub cursor {
    my ($name) = @_;

    return MIME::Base64::encode_base64url($name);
}


remove_tree($Store);

apimctl(qw(consumer add dora --plan gold));
key('dora-key-0001', 'dora');
key('dora-key-0002', 'dora');
apimctl(qw(consumer add erin --plan gold));
key('erin-key-0001', 'erin');
apimctl('consumer', 'add', $_, '--plan', 'free') for map { "c0$_" } 0 .. 8;

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-consumers;
    apim_plan gold rate=100r/s burst=100 quota=1000/day;
    apim_plan free quota=5/day;
_EOC_

our $Config = <<'_EOC_';
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;
    }

    location = /k {
        apim_key;
        alias $TEST_NGINX_SERVER_ROOT/html/ok.txt;
    }
_EOC_

our $UserFiles = <<'_EOC_';
>>> admin.token
admin-token-0123456789
>>> ok.txt
ok
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;

    $block->set_value('user_files', $UserFiles)
        unless defined $block->user_files;
});

no_shuffle();

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: POST consumers: 201 with the record; the change is logged
--- request
POST /admin/consumers
{"name":"acme","plan":"gold","metadata":{"team":"payments","tier":2}}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_json eval
[main::consumer('acme', 'gold', { team => 'payments', tier => 2 })]
--- error_log
apim admin: 127.0.0.1 created consumer "acme"
--- no_error_log
[error]
[alert]



=== TEST 2: GET consumers/{name}: the same record; apimctl sees it too
--- request
GET /admin/consumers/acme
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
[main::consumer('acme', 'gold', { team => 'payments', tier => 2 })]
--- after_response eval
{ 0 => sub {
    Test::More::like(main::apimctl('consumer', 'show', 'acme'),
                     qr/^plan: gold$/m, 'apimctl shows the consumer');
} }
--- no_error_log
[error]
[alert]



=== TEST 3: POST consumers with a name that exists: 409, nothing changed
--- request
POST /admin/consumers
{"name":"acme","plan":"free"}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 409
--- response_headers
Content-Type: application/problem+json
--- response_body eval
main::problem(409, 'Conflict', 'consumer \"acme\" exists', '/admin/consumers')
--- after_response eval
{ 0 => sub {
    Test::More::like(main::apimctl('consumer', 'show', 'acme'),
                     qr/^plan: gold$/m, 'the plan is unchanged');
} }
--- no_error_log
[error]
[alert]



=== TEST 4: POST consumers without a name, with a bad name, an unknown plan, a plan of the wrong type
--- request eval
["POST /admin/consumers\n{\"plan\":\"gold\"}",
 "POST /admin/consumers\n{\"name\":\"a b\"}",
 "POST /admin/consumers\n{\"name\":\"zed\",\"plan\":\"platinum\"}",
 "POST /admin/consumers\n{\"name\":\"zed\",\"plan\":7}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[main::problem(400, 'Bad Request', '\"name\" is required', '/admin/consumers'),
 main::problem(400, 'Bad Request', '\"name\" must be 1 to 64 of A-Z a-z 0-9 . _ -', '/admin/consumers'),
 main::problem(400, 'Bad Request', '\"plan\": no apim_plan is named \"platinum\"', '/admin/consumers'),
 main::problem(400, 'Bad Request', '\"plan\" must not be an integer', '/admin/consumers')]
--- after_response eval
{ 3 => sub {
    my $res = main::http('GET', '/admin/consumers/zed',
                         { Authorization => 'Bearer admin-token-0123456789' });
    Test::More::is($res->{status}, 404, 'no consumer was made');
} }
--- no_error_log
[error]
[alert]



=== TEST 5: GET consumers/{name} unknown: 404
--- request
GET /admin/consumers/nobody
--- more_headers eval
$main::Auth
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
--- response_body eval
main::problem(404, 'Not Found', 'no consumer \"nobody\"', '/admin/consumers/nobody')
--- no_error_log
[error]
[alert]



=== TEST 6: PATCH consumers/{name}: the plan and the metadata change, the rest stays
--- request
PATCH /admin/consumers/acme
{"plan":"free","metadata":{"team":"risk"}}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
[main::consumer('acme', 'free', { team => 'risk' })]
--- after_response eval
{ 0 => sub {
    Test::More::like(main::apimctl('consumer', 'show', 'acme'),
                     qr/^plan: free\nc.*\nmetadata: \{"team":"risk"\}$/m,
                     'apimctl shows the change');
} }
--- error_log
apim admin: 127.0.0.1 changed consumer "acme"
--- no_error_log
[error]
[alert]



=== TEST 7: PATCH consumers/{name} with null clears the plan and the metadata
--- request
PATCH /admin/consumers/acme
{"plan":null,"metadata":null}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 200
--- response_json eval
[main::consumer('acme', undef)]
--- no_error_log
[error]
[alert]



=== TEST 8: PATCH consumers/{name}: unknown consumer 404, the name cannot change (400)
--- request eval
["PATCH /admin/consumers/nobody\n{\"plan\":\"gold\"}",
 "PATCH /admin/consumers/acme\n{\"name\":\"acme2\"}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[404, 400]
--- response_body eval
[main::problem(404, 'Not Found', 'no consumer \"nobody\"', '/admin/consumers/nobody'),
 main::problem(400, 'Bad Request', 'unknown field \"name\"', '/admin/consumers/acme')]
--- no_error_log
[error]
[alert]



=== TEST 9: GET consumers: pages in name order, limit and cursor
--- request eval
["GET /admin/consumers?limit=4",
 "GET /admin/consumers?limit=4&cursor=" . main::cursor('c02'),
 "GET /admin/consumers?limit=4&cursor=" . main::cursor('c06'),
 "GET /admin/consumers"]
--- more_headers eval
$main::Auth
--- error_code eval
[200, 200, 200, 200]
--- response_json eval
[main::page(main::cursor('c02'), qw(acme c00 c01 c02)),
 main::page(main::cursor('c06'), qw(c03 c04 c05 c06)),
 main::page(undef, qw(c07 c08 dora erin)),
 main::page(undef, qw(acme c00 c01 c02 c03 c04 c05 c06 c07 c08 dora erin))]
--- no_error_log
[error]
[alert]



=== TEST 10: GET consumers: consumers added between pages, before and after the cursor: none skipped, none repeated
--- request eval
["GET /admin/consumers?limit=3",
 "GET /admin/consumers?limit=3&cursor=" . main::cursor('c01'),
 "GET /admin/consumers?limit=3&cursor=" . main::cursor('c03'),
 "GET /admin/consumers?limit=3&cursor=" . main::cursor('c05'),
 "GET /admin/consumers?limit=3&cursor=" . main::cursor('c07')]
--- more_headers eval
$main::Auth
--- after_response eval
{ 0 => sub {
    main::apimctl(qw(consumer add b00 --plan free));     # before the cursor
    main::apimctl(qw(consumer add c005 --plan free));    # before it too
    main::apimctl(qw(consumer add c015 --plan free));    # just after it
    main::apimctl(qw(consumer add c065 --plan free));    # further on
  },
  1 => sub { main::apimctl(qw(consumer add c035 --plan free)) } }
--- error_code eval
[200, 200, 200, 200, 200]
--- response_json eval
[main::page(main::cursor('c01'), qw(acme c00 c01)),
 main::page(main::cursor('c03'), qw(c015 c02 c03)),
 main::page(main::cursor('c05'), qw(c035 c04 c05)),
 main::page(main::cursor('c07'), qw(c06 c065 c07)),
 main::page(undef, qw(c08 dora erin))]
--- no_error_log
[error]
[alert]



=== TEST 11: GET consumers with a bad limit or cursor: 400
--- request eval
["GET /admin/consumers?limit=0",
 "GET /admin/consumers?limit=1001",
 "GET /admin/consumers?limit=x",
 "GET /admin/consumers?cursor=%25%25"]
--- more_headers eval
$main::Auth
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[(main::problem(400, 'Bad Request', '\"limit\" must be an integer from 1 to 1000', '/admin/consumers')) x 3,
 main::problem(400, 'Bad Request', '\"cursor\" is not a cursor this API returned', '/admin/consumers')]
--- no_error_log
[error]
[alert]



=== TEST 12: DELETE consumers/{name}: 204; its keys are refused on the very next request
--- request eval
["GET /k", "DELETE /admin/consumers/dora", "GET /k", "GET /admin/consumers/dora"]
--- more_headers eval
["X-API-Key: dora-key-0001\n", $main::Auth, "X-API-Key: dora-key-0002\n", $main::Auth]
--- error_code eval
[200, 204, 401, 404]
--- response_body eval
["ok\n", "",
 main::problem(401, 'Unauthorized', 'The API key is not valid.', '/k'),
 main::problem(404, 'Not Found', 'no consumer \"dora\"', '/admin/consumers/dora')]
--- after_response eval
{ 3 => sub {
    Test::More::unlike(main::apimctl('key', 'list'), qr/\tdora\t/,
                       'the consumer\'s keys are gone');
} }
--- no_error_log eval
['[error]', '[alert]', @{ main::unlogged('dora-key-0001', 'dora-key-0002') }]



=== TEST 13: DELETE consumers/{name}: logged with the number of keys revoked
--- request
DELETE /admin/consumers/erin
--- more_headers eval
$main::Auth
--- error_code: 204
--- response_body chomp
--- error_log
apim admin: 127.0.0.1 deleted consumer "erin" and revoked its 1 keys
--- no_error_log
[error]
[alert]



=== TEST 14: DELETE consumers/{name} unknown: 404
--- request
DELETE /admin/consumers/dora
--- more_headers eval
$main::Auth
--- error_code: 404
--- response_body eval
main::problem(404, 'Not Found', 'no consumer \"dora\"', '/admin/consumers/dora')
--- no_error_log
[error]
[alert]



=== TEST 15: a method a path does not answer: 405 with Allow; an unknown path: 404
--- request eval
["PUT /admin/consumers\n{}", "POST /admin/consumers/acme\n{}",
 "GET /admin/consumer", "GET /admin/consumers/acme/keys"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[405, 405, 404, 404]
--- response_headers eval
["Allow: GET, HEAD, POST\nContent-Type: application/problem+json",
 "Allow: GET, HEAD, PATCH, DELETE\nContent-Type: application/problem+json",
 "Content-Type: application/problem+json",
 "Content-Type: application/problem+json"]
--- response_body eval
[main::problem(405, 'Method Not Allowed', '\"/admin/consumers\" answers GET, HEAD, POST', '/admin/consumers'),
 main::problem(405, 'Method Not Allowed', '\"/admin/consumers/acme\" answers GET, HEAD, PATCH, DELETE', '/admin/consumers/acme'),
 main::problem(404, 'Not Found', 'the admin API has no \"consumer\"', '/admin/consumer'),
 main::problem(404, 'Not Found', 'the admin API has no \"consumers/acme/keys\"', '/admin/consumers/acme/keys')]
--- no_error_log
[error]
[alert]



=== TEST 16: HEAD consumers/{name}: the headers of GET, no body
--- request
HEAD /admin/consumers/acme
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
--- no_error_log
[error]
[alert]
