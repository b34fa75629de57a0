# The admin API's keys (issue 4): create (the key shown once), import,
# show, list in pages with filters (stable while keys are added between
# pages), change, revoke; a key created is accepted, and a key revoked or
# disabled refused, on the very next request in every worker; the key
# itself is never logged.
#
# Two workers: the keyed location listens on a port of its own with one
# socket per worker (reuseport), as in t/012-store-workers.t; the test
# server proxies each request to it on a new connection, which the kernel
# hashes to one worker or the other.
#
#   prove -I t/lib t/061-admin-keys.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Admin;
use ApimTest::Sections;

use File::Path qw(remove_tree);
use JSON::PP;

our $Store = server_root() . '.store-admin-keys';

# a key's JSON

sub key_json {
    my (%f) = @_;

    return { id => $Kid, consumer => 'acme', plan => undef, apis => undef,
             created => $Time, not_before => undef, expires_at => undef,
             disabled => 0, status => 'active', metadata => {}, %f };
}

# patterns for no_error_log: a key's text on any line above the debug level
# (nginx's debug log dumps every request header, and the test server's
# proxy's)

sub unlogged {
    return [map { qr/^\d{4}\/\d\d\/\d\d [\d:]{8} \[(?!debug).*\Q$_\E/ } @_];
}

# the same for a key known only once a response has come

sub not_logged {
    my ($key) = @_;

    open my $fh, '<', server_root() . '/logs/error.log' or die "log: $!";
    my @hits = grep { /^\d{4}\/\d\d\/\d\d [\d:]{8} \[(?!debug)/
                      && index($_, $key) >= 0 }
               <$fh>;
    close $fh;

    Test::More::is(scalar @hits, 0, 'the key is not logged') or
        Test::More::diag(@hits);
}

# "--- workers_seen": t/helpers/ApimTest/Sections.pm

add_sections(qw(workers_seen));

our $AuthHeaders = { Authorization => 'Bearer admin-token-0123456789' };


remove_tree($Store);

apimctl(qw(consumer add acme --plan gold));
apimctl(qw(consumer add bolt --plan free));
key('acme-key-0001', 'acme');
key('bolt-key-0001', 'bolt', '--plan', 'gold');
key('doomed-key-0001', 'acme');
key('logged-key-0001', 'acme');

master_on();
workers(2);

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-keys;
    apim_plan gold rate=100r/s burst=100 quota=1000/day;
    apim_plan free quota=100000/day;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        location = /k {
            apim_key;
            ssi on;
            ssi_types text/plain;
            alias $TEST_NGINX_SERVER_ROOT/html/worker.txt;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location /admin/ {
        apim_admin;
        apim_admin_token $TEST_NGINX_SERVER_ROOT/html/admin.token;
    }

    location = /k { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
_EOC_

our $UserFiles = <<'_EOC_';
>>> admin.token
admin-token-0123456789
>>> worker.txt
worker <!--# echo var="pid" -->
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

=== TEST 1: POST keys: 201 with the key, shown this once; it works on the very next request, in both workers; never logged
--- request
POST /admin/keys
{"consumer":"acme"}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_json eval
[{ %{ main::key_json() }, key => sub { $main::New = shift; 1 } }]
--- after_response eval
{ 0 => sub {
    my %seen;
    for (1 .. 20) {
        my $res = main::http('GET', '/k', { 'X-API-Key' => $main::New });
        Test::More::is($res->{status}, 200, "the new key works ($_)");
        $seen{$1} = 1 if $res->{content} =~ /\Aworker (\d+)\n\z/;
    }
    Test::More::is(scalar keys %seen, 2, 'in both workers');
    Test::More::is(substr($main::New, 0, 14),
                   main::http('GET', '/admin/keys?consumer=acme&limit=1000',
                              $main::AuthHeaders)->{content}
                   =~ /"id":"(\Q${\ substr($main::New, 0, 14) }\E)"/ ? $1 : '',
                   'its id is the start of the key');
    main::not_logged($main::New);
} }
--- error_log eval
qr/apim admin: 127\.0\.0\.1 created key "ak_[A-Za-z0-9]{11}"/
--- no_error_log
[error]
[alert]



=== TEST 2: POST keys with "key": imported as it is, with an ik_ id; accepted on the very next request in both workers
--- request eval
["GET /k", "POST /admin/keys\n{\"consumer\":\"bolt\",\"key\":\"imported-key-0001\"}",
 ("GET /k") x 20]
--- more_headers eval
["X-API-Key: imported-key-0001\n", $main::Auth . $main::Json,
 ("X-API-Key: imported-key-0001\n") x 20]
--- error_code eval
[401, 201, (200) x 20]
--- response_json eval
[undef, main::key_json(id => $main::Iid, consumer => 'bolt',
                       key => 'imported-key-0001')]
--- response_body_like eval
[qr/"The API key is not valid\."/, qr/\A\{"key":"imported-key-0001","id":"ik_/,
 (qr/\Aworker \d+\n\z/) x 20]
--- workers_seen: 2
--- no_error_log eval
['[error]', '[alert]', @{ main::unlogged('imported-key-0001') }]



=== TEST 3: POST keys importing a key that exists: 409 naming its id, nothing changed
--- request eval
"POST /admin/keys\n{\"consumer\":\"acme\",\"key\":\"acme-key-0001\"}"
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 409
--- response_headers
Content-Type: application/problem+json
--- response_body eval
main::problem(409, 'Conflict', qq{\\"key\\": this key exists already (id \\"$main::Id{'acme-key-0001'}\\")}, '/admin/keys')
--- no_error_log eval
['[error]', '[alert]', @{ main::unlogged('acme-key-0001') }]



=== TEST 4: POST keys with every field: the record has them
--- request
POST /admin/keys
{"consumer":"acme","plan":"free","apis":["orders","billing"],"not_before":"2026-01-01T00:00:00Z","expires_at":"2099-12-31T23:00:00+01:00","metadata":{"app":"shop","v":[1,true,null]}}
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 201
--- response_json eval
[main::key_json(key => $main::Key, plan => 'free',
                apis => ['orders', 'billing'],
                not_before => '2026-01-01T00:00:00Z',
                expires_at => '2099-12-31T22:00:00Z',
                metadata => { app => 'shop', v => [1, 1, undef] })]
--- no_error_log
[error]
[alert]



=== TEST 5: POST keys with bad fields: 400 naming the field, no key made
--- request eval
["POST /admin/keys\n{}",
 "POST /admin/keys\n{\"consumer\":\"nobody\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"key\":\"short\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"plan\":\"platinum\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"apis\":[\"a b\"]}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"apis\":\"orders\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"expires_at\":\"tomorrow\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"not_before\":\"2026-13-01T00:00:00Z\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"not_before\":\"2030-01-01T00:00:00Z\",\"expires_at\":\"2029-01-01T00:00:00Z\"}",
 "POST /admin/keys\n{\"consumer\":\"acme\",\"metadata\":[]}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[(400) x 10]
--- response_body eval
[map { main::problem(400, 'Bad Request', $_, '/admin/keys') }
 '\"consumer\" is required',
 '\"consumer\": no consumer \"nobody\"',
 '\"key\" must be 8 to 512 printable ASCII characters without spaces',
 '\"plan\": no apim_plan is named \"platinum\"',
 '\"apis\" must be an array of API names (1 to 64 of A-Z a-z 0-9 . _ -)',
 '\"apis\" must not be a string',
 '\"expires_at\" must be an RFC 3339 time, such as \"2026-11-26T12:00:00Z\"',
 '\"not_before\" must be an RFC 3339 time, such as \"2026-11-26T12:00:00Z\"',
 '\"expires_at\" must be later than \"not_before\"',
 '\"metadata\" must not be an array']
--- after_response eval
{ 9 => sub {
    Test::More::is(scalar(() = main::apimctl('key', 'list') =~ /\n/g), 6,
                   'no key was made (7 keys)');
} }
--- no_error_log
[error]
[alert]



=== TEST 6: GET keys/{id}: the record, never the key; unknown id: 404
--- request eval
["GET /admin/keys/$main::Id{'bolt-key-0001'}", "GET /admin/keys/ak_nothere"]
--- more_headers eval
$main::Auth
--- error_code eval
[200, 404]
--- response_json eval
[main::key_json(id => $main::Id{'bolt-key-0001'}, consumer => 'bolt',
                plan => 'gold')]
--- response_body_like eval
[qr/\A(?!.*bolt-key-0001)/s,
 qr/\A\Q${\ main::problem(404, 'Not Found', 'no key \"ak_nothere\"', '\/admin\/keys\/ak_nothere') }\E\z/]
--- no_error_log
[error]
[alert]



=== TEST 7: GET keys filtered by consumer and by plan (the key's own, else its consumer's)
--- request eval
["GET /admin/keys?consumer=bolt", "GET /admin/keys?plan=free",
 "GET /admin/keys?consumer=nobody"]
--- more_headers eval
$main::Auth
--- error_code eval
[200, 200, 200]
--- init
$main::Plans = '';
--- response_json eval
[{ items => [(main::key_json(id => $main::Iid, consumer => 'bolt',
                             plan => sub { $main::Plans .= $_[0] // '-'; 1 }))
             x 2],
   next_cursor => undef },
 { items => [main::key_json(plan => 'free', apis => ['orders', 'billing'],
                            not_before => '2026-01-01T00:00:00Z',
                            expires_at => '2099-12-31T22:00:00Z',
                            metadata => { app => 'shop', v => [1, 1, undef] }),
             main::key_json(id => $main::Iid, consumer => 'bolt')],
   next_cursor => undef },
 { items => [], next_cursor => undef }]
--- no_error_log
[error]
[alert]



=== TEST 8: GET keys in pages of 2, keys added between the pages: every key once, in id order
--- request
GET /admin/keys?limit=2
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_json eval
[{ items => [main::key_json(id => qr/./, consumer => qr/./, plan => sub { 1 },
                            apis => sub { 1 }, not_before => sub { 1 },
                            expires_at => sub { 1 }, metadata => sub { 1 }),
             main::key_json(id => qr/./, consumer => qr/./, plan => sub { 1 },
                            apis => sub { 1 }, not_before => sub { 1 },
                            expires_at => sub { 1 }, metadata => sub { 1 })],
   next_cursor => qr/\A[A-Za-z0-9_-]+\z/ }]
--- after_response eval
{ 0 => sub {
    my $before = CORE::join ' ', sort map { (split /\t/)[0] }
                           split /\n/, main::apimctl('key', 'list');
    my (@seen, $cursor, $n);
    do {
        my $res = main::http('GET', '/admin/keys?limit=2'
                             . (defined $cursor ? "&cursor=$cursor" : ''),
                             $main::AuthHeaders);
        my $page = JSON::PP->new->decode($res->{content});
        push @seen, map { $_->{id} } @{ $page->{items} };
        $cursor = $page->{next_cursor};

        # two keys a page: one sorts first, the other anywhere
        main::key(sprintf('paging-key-%04d', $n++), 'acme') for 1 .. 2;
    } while (defined $cursor);

    my %count;
    $count{$_}++ for @seen;
    Test::More::is(scalar(grep { $count{$_} > 1 } keys %count), 0,
                   'no key repeated');
    Test::More::is(CORE::join(' ', @seen), CORE::join(' ', sort @seen), 'in id order');
    Test::More::is(CORE::join(' ', grep { $before =~ /\b\Q$_\E\b/ } @seen),
                   $before, 'every key there at the start is seen');
} }
--- no_error_log
[error]
[alert]



=== TEST 9: PATCH keys/{id}: disabled, the key is refused on the very next request; enabled again, accepted
--- request eval
["PATCH /admin/keys/$main::Id{'acme-key-0001'}\n{\"disabled\":true}",
 ("GET /k") x 10,
 "PATCH /admin/keys/$main::Id{'acme-key-0001'}\n{\"disabled\":false,\"plan\":\"free\",\"metadata\":{\"x\":\"y\"}}",
 ("GET /k") x 10]
--- more_headers eval
[$main::Auth . $main::Json, ("X-API-Key: acme-key-0001\n") x 10,
 $main::Auth . $main::Json, ("X-API-Key: acme-key-0001\n") x 10]
--- error_code eval
[200, (401) x 10, 200, (200) x 10]
--- response_json eval
[main::key_json(id => $main::Id{'acme-key-0001'}, disabled => 1,
                status => 'disabled'),
 (undef) x 10,
 main::key_json(id => $main::Id{'acme-key-0001'}, plan => 'free',
                metadata => { x => 'y' })]
--- response_body_like eval
[qr/"disabled":true/, (qr/"The API key is disabled\."/) x 10, qr/"plan":"free"/,
 (qr/\Aworker \d+\n\z/) x 10]
--- no_error_log
[error]
[alert]



=== TEST 10: PATCH keys/{id}: an expiry in the past expires it; null removes it; bad fields 400; unknown 404
--- request eval
["PATCH /admin/keys/$main::Id{'bolt-key-0001'}\n{\"expires_at\":\"2020-01-01T00:00:00Z\"}",
 "GET /k",
 "PATCH /admin/keys/$main::Id{'bolt-key-0001'}\n{\"expires_at\":null}",
 "GET /k",
 "PATCH /admin/keys/$main::Id{'bolt-key-0001'}\n{\"consumer\":\"acme\"}",
 "PATCH /admin/keys/$main::Id{'bolt-key-0001'}\n{\"disabled\":\"yes\"}",
 "PATCH /admin/keys/ak_nothere\n{\"disabled\":true}"]
--- more_headers eval
[$main::Auth . $main::Json, "X-API-Key: bolt-key-0001\n",
 $main::Auth . $main::Json, "X-API-Key: bolt-key-0001\n",
 ($main::Auth . $main::Json) x 3]
--- error_code eval
[200, 401, 200, 200, 400, 400, 404]
--- response_body_like eval
[qr/"expires_at":"2020-01-01T00:00:00Z","disabled":false,"status":"expired"/,
 qr/"The API key has expired\."/,
 qr/"expires_at":null,"disabled":false,"status":"active"/,
 qr/\Aworker \d+\n\z/,
 map { qr/\A\Q$_\E\z/ }
 main::problem(400, 'Bad Request', 'unknown field \"consumer\"', "/admin/keys/$main::Id{'bolt-key-0001'}"),
 main::problem(400, 'Bad Request', '\"disabled\" must not be a string', "/admin/keys/$main::Id{'bolt-key-0001'}"),
 main::problem(404, 'Not Found', 'no key \"ak_nothere\"', '/admin/keys/ak_nothere')]
--- no_error_log
[error]
[alert]



=== TEST 11: DELETE keys/{id}: 204, refused on the very next request in both workers; a second DELETE 404
--- request eval
["GET /k", "DELETE /admin/keys/$main::Id{'doomed-key-0001'}", ("GET /k") x 20,
 "DELETE /admin/keys/$main::Id{'doomed-key-0001'}",
 "GET /admin/keys/$main::Id{'doomed-key-0001'}"]
--- more_headers eval
["X-API-Key: doomed-key-0001\n", $main::Auth, ("X-API-Key: doomed-key-0001\n") x 20,
 $main::Auth, $main::Auth]
--- error_code eval
[200, 204, (401) x 20, 404, 404]
--- response_body_like eval
[qr/\Aworker \d+\n\z/, qr/\A\z/, (qr/"The API key is not valid\."/) x 20,
 (qr/"no key \\"\Q$main::Id{'doomed-key-0001'}\E\\""/) x 2]
--- no_error_log eval
['[error]', '[alert]', @{ main::unlogged('doomed-key-0001') }]



=== TEST 12: DELETE keys/{id}: the revocation is logged with the key id
--- request eval
"DELETE /admin/keys/$main::Id{'logged-key-0001'}"
--- more_headers eval
$main::Auth
--- error_code: 204
--- response_body chomp
--- error_log eval
qq{apim admin: 127.0.0.1 revoked key "$main::Id{'logged-key-0001'}"}
--- no_error_log
[error]
[alert]



=== TEST 13: keys/{id}/rotate, keys, keys/{id}: other methods 405 with Allow
--- request eval
["PUT /admin/keys/x/rotate", "DELETE /admin/keys", "POST /admin/keys/x\n{}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[405, 405, 405]
--- response_headers eval
["Allow: POST", "Allow: GET, HEAD, POST", "Allow: GET, HEAD, PATCH, DELETE"]
--- no_error_log
[error]
[alert]
