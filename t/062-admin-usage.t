# The admin API's usage and rotation (issue 4): a key's usage per policy
# of its plan (limit, used, remaining, reset), its reset (seen on the very
# next request and the next GET), rotation with a grace period (the old
# key works for "grace" seconds, then stops; the new one at once), and the
# plans and status endpoints.
#
#   prove -I t/lib t/062-admin-usage.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Admin;

use File::Path qw(remove_tree);
use JSON::PP;

our $Store = server_root() . '.store-admin-usage';

our $AuthHeaders = { Authorization => 'Bearer admin-token-0123456789' };

# the next UTC midnight, when a daily quota is restored

sub midnight {
    my @t = gmtime(time + 86400);

    return sprintf('%04d-%02d-%02dT00:00:00Z', $t[5] + 1900, $t[4] + 1,
                   $t[3]);
}

# a usage answer: rate 10r/m and quota 10/day

sub usage {
    my ($key, $rate_used, $quota_used) = @_;

    return { key_id => $Id{$key}, consumer => 'acme', plan => 'metered',
             policies => [
                 { name => 'rate', limit => 10, window => 60,
                   used => $rate_used, remaining => 10 - $rate_used,
                   reset => $Time },
                 { name => 'quota', limit => 10, window => 'day',
                   used => $quota_used, remaining => 10 - $quota_used,
                   reset => midnight() } ] };
}

# the rate policy, whatever is left of it (a block starts a while after
# the one before)

our $AnyRate = { name => 'rate', limit => 10, window => 60,
                 used => qr/\A[01]\z/, remaining => qr/\A(?:9|10)\z/,
                 reset => $Time };

sub key_json {
    my (%f) = @_;

    return { id => $Kid, consumer => 'acme', plan => undef, apis => undef,
             created => $Time, not_before => undef, expires_at => undef,
             disabled => 0, status => 'active', metadata => {}, %f };
}


remove_tree($Store);

apimctl(qw(consumer add acme --plan metered));
key('usage-key-0001', 'acme');
key('quota-key-0001', 'acme');
key('rot-key-0001', 'acme');
key('rot-key-0002', 'acme');
key('rot-key-0003', 'acme', '--expires', '1h');
key('rot-key-0004', 'acme', '--plan', 'gold', '--apis', 'orders,billing',
    '--meta', 'app=shop');
key('rot-key-0005', 'acme');
key('rot-key-0006', 'acme', '--expires', '1s');
my $expired = time + 2;

# the expired key has expired before nginx first answers
select undef, undef, undef, 0.1 while time < $expired;

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-admin-usage flush=50ms;
    apim_plan metered rate=10r/m burst=9 quota=10/day;
    apim_plan gold rate=100r/s burst=200 quota=1000000/month
              apis=orders,billing;
    apim_plan trial quota=100/7d quota_window=rolling;
    apim_plan bigger rate=10r/m burst=9 quota=20/day;
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

=== TEST 1: GET keys/{id}/usage of an unused key: nothing used
--- request eval
"GET /admin/keys/$main::Id{'usage-key-0001'}/usage"
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
[main::usage('usage-key-0001', 0, 0)]
--- no_error_log
[error]
[alert]



=== TEST 2: GET keys/{id}/usage after three requests: three used of each policy; reading it counts nothing
--- request eval
[("GET /k") x 3, ("GET /admin/keys/$main::Id{'usage-key-0001'}/usage") x 2]
--- more_headers eval
[("X-API-Key: usage-key-0001\n") x 3, ($main::Auth) x 2]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_json eval
[undef, undef, undef, main::usage('usage-key-0001', 3, 3),
 main::usage('usage-key-0001', 3, 3)]
--- no_error_log
[error]
[alert]



=== TEST 3: DELETE keys/{id}/usage: 204; the next GET shows none used, and the next request counts from zero
--- request eval
["GET /k", "DELETE /admin/keys/$main::Id{'usage-key-0001'}/usage",
 "GET /admin/keys/$main::Id{'usage-key-0001'}/usage", "GET /k",
 "GET /admin/keys/$main::Id{'usage-key-0001'}/usage"]
--- more_headers eval
["X-API-Key: usage-key-0001\n", $main::Auth, $main::Auth,
 "X-API-Key: usage-key-0001\n", $main::Auth]
--- error_code eval
[200, 204, 200, 200, 200]
--- response_json eval
[undef, undef, main::usage('usage-key-0001', 0, 0), undef,
 main::usage('usage-key-0001', 1, 1)]
--- no_error_log
[error]
[alert]



=== TEST 4: a change of the key's plan keeps its usage
--- request eval
["PATCH /admin/keys/$main::Id{'usage-key-0001'}\n{\"plan\":\"bigger\"}",
 "GET /admin/keys/$main::Id{'usage-key-0001'}/usage",
 "PATCH /admin/keys/$main::Id{'usage-key-0001'}\n{\"plan\":null}",
 "GET /admin/keys/$main::Id{'usage-key-0001'}/usage"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[200, 200, 200, 200]
--- response_json eval
[undef,
 { %{ main::usage('usage-key-0001', 1, 1) }, plan => 'bigger',
   policies => [$main::AnyRate,
                { name => 'quota', limit => 20, window => 'day', used => 1,
                  remaining => 19, reset => main::midnight() }] },
 undef,
 { %{ main::usage('usage-key-0001', 1, 1) },
   policies => [$main::AnyRate, main::usage('usage-key-0001', 1, 1)->{policies}[1]] }]
--- no_error_log
[error]
[alert]



=== TEST 5: DELETE keys/{id}/usage is logged with the key id
--- request eval
"DELETE /admin/keys/$main::Id{'usage-key-0001'}/usage"
--- more_headers eval
$main::Auth
--- error_code: 204
--- response_body chomp
--- error_log eval
qq{apim admin: 127.0.0.1 reset the usage of key "$main::Id{'usage-key-0001'}"}
--- no_error_log
[error]
[alert]



=== TEST 6: a quota used up (429) is restored by DELETE keys/{id}/usage on the very next request
--- request eval
[("GET /k") x 9, "DELETE /admin/keys/$main::Id{'quota-key-0001'}/usage", "GET /k"]
--- more_headers eval
[("X-API-Key: quota-key-0001\n") x 9, $main::Auth, "X-API-Key: quota-key-0001\n"]
--- init
# ten requests use the quota up (and the rate's burst of 9 + 1 with it)
for (1 .. 10) {
    my $res = main::http('GET', '/k', { 'X-API-Key' => 'quota-key-0001' });
    last if $res->{status} != 200;
}
--- error_code eval
[(429) x 9, 204, 200]
--- no_error_log
[error]
[alert]



=== TEST 7: usage of an unknown key: 404; other methods: 405
--- request eval
["GET /admin/keys/ak_nothere/usage", "DELETE /admin/keys/ak_nothere/usage",
 "POST /admin/keys/ak_nothere/usage\n{}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[404, 404, 405]
--- response_headers eval
["Content-Type: application/problem+json", "Content-Type: application/problem+json",
 "Allow: GET, HEAD, DELETE"]
--- response_body eval
[(main::problem(404, 'Not Found', 'no key \"ak_nothere\"', '/admin/keys/ak_nothere/usage')) x 2,
 main::problem(405, 'Method Not Allowed', '\"/admin/keys/ak_nothere/usage\" answers GET, HEAD, DELETE', '/admin/keys/ak_nothere/usage')]
--- no_error_log
[error]
[alert]



=== TEST 8: POST keys/{id}/rotate {grace: 2}: a new key at once; the old one works for 2 s, then stops
--- request eval
["POST /admin/keys/$main::Id{'rot-key-0001'}/rotate\n{\"grace\":2}", "GET /k",
 "GET /k", "GET /admin/keys/$main::Id{'rot-key-0001'}"]
--- more_headers eval
[$main::Auth . $main::Json, "X-API-Key: rot-key-0001\n",
 "X-API-Key: rot-key-0001\n", $main::Auth]
--- error_code eval
[201, 200, 401, 200]
--- response_json eval
[main::key_json(key => sub { $main::New = shift; 1 },
                previous => { id => $main::Id{'rot-key-0001'},
                              expires_at => sub { $main::Until = shift; 1 } }),
 undef, undef,
 main::key_json(id => $main::Iid,
                expires_at => sub { $_[0] eq $main::Until },
                status => 'expired')]
--- response_body_like eval
[qr/"previous"/, qr/\Aok\n\z/, qr/"The API key has expired\."/, qr/"status":"expired"/]
--- after_response eval
{ 0 => sub {
    my $res = main::http('GET', '/k', { 'X-API-Key' => $main::New });
    Test::More::is($res->{status}, 200, 'the new key works at once');
  },
  1 => sub {
    sleep 3;
    my $res = main::http('GET', '/k', { 'X-API-Key' => $main::New });
    Test::More::is($res->{status}, 200, 'the new key still works');
  } }
--- no_error_log
[error]
[alert]



=== TEST 9: rotate with no grace (an empty body): the old key stops at once
--- request eval
["POST /admin/keys/$main::Id{'rot-key-0002'}/rotate", "GET /k"]
--- more_headers eval
[$main::Auth, "X-API-Key: rot-key-0002\n"]
--- error_code eval
[201, 401]
--- response_body_like eval
[qr/"previous":\{"id":"\Q$main::Id{'rot-key-0002'}\E","expires_at":"[-0-9T:]+Z"\}\}\n\z/,
 qr/"The API key has expired\."/]
--- no_error_log
[error]
[alert]



=== TEST 10: rotate never makes the old key live longer than it would have
--- request eval
["GET /admin/keys/$main::Id{'rot-key-0003'}",
 "POST /admin/keys/$main::Id{'rot-key-0003'}/rotate\n{\"grace\":86400}"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[200, 201]
--- response_json eval
[main::key_json(id => $main::Iid, expires_at => sub { $main::Until = shift; 1 }),
 main::key_json(key => $main::Key, expires_at => sub { $_[0] eq $main::Until },
                previous => { id => $main::Id{'rot-key-0003'},
                              expires_at => sub { $_[0] eq $main::Until } })]
--- no_error_log
[error]
[alert]



=== TEST 11: rotate keeps the plan, the APIs and the metadata
--- request eval
"POST /admin/keys/$main::Id{'rot-key-0004'}/rotate\n{\"grace\":60}"
--- more_headers eval
$main::Auth . $main::Json
--- error_code: 201
--- response_json eval
[main::key_json(key => $main::Key, plan => 'gold', apis => ['orders', 'billing'],
                metadata => { app => 'shop' },
                previous => { id => $main::Id{'rot-key-0004'}, expires_at => $main::Time })]
--- error_log eval
qr/apim admin: 127\.0\.0\.1 rotated key "\Q$main::Id{'rot-key-0004'}\E" to "ak_[A-Za-z0-9]{11}", the old one expires in 60 s/
--- no_error_log
[error]
[alert]



=== TEST 12: rotate with a bad grace or an unknown key: 400 or 404, nothing changed
--- request eval
["POST /admin/keys/$main::Id{'usage-key-0001'}/rotate\n{\"grace\":-1}",
 "POST /admin/keys/$main::Id{'usage-key-0001'}/rotate\n{\"grace\":\"2\"}",
 "POST /admin/keys/$main::Id{'usage-key-0001'}/rotate\n{\"grace\":1.5}",
 "POST /admin/keys/$main::Id{'usage-key-0001'}/rotate\n{\"grace\":2,\"key\":\"x\"}",
 "POST /admin/keys/ak_nothere/rotate\n{\"grace\":2}",
 "GET /k"]
--- more_headers eval
[($main::Auth . $main::Json) x 5, "X-API-Key: usage-key-0001\n"]
--- error_code eval
[400, 400, 400, 400, 404, 200]
--- response_body eval
[(map { main::problem(400, 'Bad Request', $_, "/admin/keys/$main::Id{'usage-key-0001'}/rotate") }
  '\"grace\" must be 0 to 31622400 seconds', '\"grace\" must not be a string',
  '\"grace\" must not be a number', 'unknown field \"key\"'),
 main::problem(404, 'Not Found', 'no key \"ak_nothere\"', '/admin/keys/ak_nothere/rotate'),
 "ok\n"]
--- no_error_log
[error]
[alert]



=== TEST 13: rotate carries the usage the store has: a rotation is no way to a new quota
--- request eval
["GET /k", "GET /k",
 "POST /admin/keys/$main::Id{'rot-key-0005'}/rotate\n{\"grace\":60}"]
--- more_headers eval
["X-API-Key: rot-key-0005\n", "X-API-Key: rot-key-0005\n",
 $main::Auth . $main::Json]
--- error_code eval
[200, 200, 201]
--- response_json eval
[undef, undef,
 main::key_json(key => sub { $main::New = shift; 1 },
                previous => { id => $main::Id{'rot-key-0005'}, expires_at => $main::Time })]
--- after_response eval
{ 1 => sub { select undef, undef, undef, 0.5 },     # flushed to the store
  2 => sub {
    my $id = substr($main::New, 0, 14);
    my $res = main::http('GET', "/admin/keys/$id/usage", $main::AuthHeaders);
    my $usage = JSON::PP->new->decode($res->{content});
    Test::More::is($usage->{policies}[1]{used}, 2, 'the new key has used 2');
    $res = main::http('GET', '/k', { 'X-API-Key' => $main::New });
    $res = main::http('GET', "/admin/keys/$id/usage", $main::AuthHeaders);
    $usage = JSON::PP->new->decode($res->{content});
    Test::More::is($usage->{policies}[1]{used}, 3, 'and counts on');
  } }
--- no_error_log
[error]
[alert]



=== TEST 14: rotate an expired key: 409, nothing changed
--- request eval
["POST /admin/keys/$main::Id{'rot-key-0006'}/rotate\n{\"grace\":60}",
 "GET /admin/keys?limit=1000"]
--- more_headers eval
$main::Auth . $main::Json
--- error_code eval
[409, 200]
--- response_body_like eval
[qr/\A\{"type":"about:blank","title":"Conflict","status":409,"detail":"key \\"\Q$main::Id{'rot-key-0006'}\E\\" expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: a new key would take its expiry; give it a later \\"expires_at\\" first","instance":"[^"]+"\}\n\z/,
 qr/"next_cursor":null\}\n\z/]
--- after_response eval
{ 1 => sub {
    Test::More::is(scalar(() = main::apimctl('key', 'list') =~ /\n/g), 12,
                   'no key was made (13 keys)');
} }
--- no_error_log
[error]
[alert]



=== TEST 15: GET plans and plans/{name}: the plans of nginx.conf with their limits; unknown: 404
--- request eval
["GET /admin/plans", "GET /admin/plans/trial", "GET /admin/plans/platinum"]
--- more_headers eval
$main::Auth
--- error_code eval
[200, 200, 404]
--- response_body eval
['{"items":[{"name":"metered","rate":{"limit":10,"window":60,"burst":9},"quota":{"limit":10,"window":"day","rolling":false},"apis":null},'
 . '{"name":"gold","rate":{"limit":100,"window":1,"burst":200},"quota":{"limit":1000000,"window":"month","rolling":false},"apis":["orders","billing"]},'
 . '{"name":"trial","rate":null,"quota":{"limit":100,"window":604800,"rolling":true},"apis":null},'
 . '{"name":"bigger","rate":{"limit":10,"window":60,"burst":9},"quota":{"limit":20,"window":"day","rolling":false},"apis":null}]}' . "\n",
 '{"name":"trial","rate":null,"quota":{"limit":100,"window":604800,"rolling":true},"apis":null}' . "\n",
 main::problem(404, 'Not Found', 'no plan \"platinum\"', '/admin/plans/platinum')]
--- no_error_log
[error]
[alert]



=== TEST 16: GET status: the store's status, as apim_status answers it
--- request
GET /admin/status
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_json eval
[{ store => { path => $main::Store, schema => 'nginx-apim-store/1',
              size => 1073741824, map_bytes => 16777216,
              used_bytes => qr/\A\d+\z/,
              records => { consumers => 1, keys => 13, key_ids => 13,
                           counters => qr/\A\d+\z/, policies => 0,
                           analytics => 0 } },
   nginx_version => qr/\A\d+\.\d+\.\d+\z/, module_version => qr/\A\d+\.\d+\.\d+\z/ }]
--- no_error_log
[error]
[alert]



=== TEST 17: GET analytics: the analytics query, behind the admin token; 404 while apim_analytics is off
--- request eval
["GET /admin/analytics", "GET /admin/analytics", "DELETE /admin/analytics"]
--- more_headers eval
[$main::Auth, "", $main::Auth]
--- error_code eval
[404, 401, 405]
--- response_headers eval
["Content-Type: application/problem+json", "WWW-Authenticate: Bearer",
 "Allow: GET, HEAD"]
--- response_body eval
[main::problem(404, 'Not Found', 'Analytics are off: \"apim_analytics\" is not set.', '/admin/analytics'),
 main::problem(401, 'Unauthorized', 'the admin API needs \"Authorization: Bearer\" with its token', '/admin/analytics'),
 main::problem(405, 'Method Not Allowed', '\"/admin/analytics\" answers GET, HEAD', '/admin/analytics')]
--- no_error_log
[error]
[alert]



=== TEST 18: GET analytics with apim_analytics on: 200 with the query's JSON
--- http_config eval
$main::HttpConfig . "    apim_analytics;\n"
--- request
GET /admin/analytics?granularity=hour
--- more_headers eval
$main::Auth
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"granularity":"hour","from":"[-0-9T:]+Z","to":"[-0-9T:]+Z",/
--- no_error_log
[error]
[alert]
