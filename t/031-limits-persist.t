# Limits survive nginx (issue 3): what a key has used of its quota, and
# where its rate stands, are written to the store (on a timer, and by every
# process as it exits) and read back when the key is next seen, so that a
# restart neither forgets nor resets them.
#
# The blocks run in order: Test::Nginx restarts nginx between them (block 2
# checks that it did, by the pid), and the store, beside the server root,
# stays.
#
#   prove -I t/lib t/031-limits-persist.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Path qw(remove_tree);
use IO::Socket::INET ();
use Time::HiRes ();

no_shuffle();

our $Store = server_root() . '.store-persist';
our (%Id, $NginxPid);

sub nginx_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or return 0;
    my $pid = <$fh> // 0;
    chomp $pid;
    return $pid;
}

# one request on a new connection: its status

sub get {
    my ($path, @headers) = @_;

    local $SIG{ALRM} = sub { die "GET $path: timed out\n" };
    alarm 10;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";

    print $sock "GET $path HTTP/1.0\r\nHost: localhost\r\n",
                map({ "$_\r\n" } @headers), "\r\n";

    local $/;
    my $resp = <$sock> // '';
    close $sock;

    alarm 0;

    return $resp =~ m{^HTTP/1\.[01] (\d{3}) } ? $1 : 0;
}

# what the store holds of a key's use, as apimctl reads it

sub used {
    my ($key) = @_;

    return apimctl('usage', $Id{$key}) =~ /^used: (\d+)$/m ? $1 : -1;
}

remove_tree($Store);

apimctl('consumer', 'add', 'alice', '--plan', 'keep');

for my $key (qw(keep-key-0001 slow-key-0001 flush-key-0001)) {
    my @plan = $key =~ /^slow/ ? ('--plan', 'slow') : ();

    $Id{$key} = apimctl('key', 'import', '--consumer', 'alice', @plan, $key);
}

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist;
    apim_plan keep quota=10/day quota_window=rolling;
    apim_plan slow rate=1r/m;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: spend 3 of a quota of 10, and a rate of 1r/m
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
$main::NginxPid = main::nginx_pid();
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: keep-key-0001", "X-API-Key: keep-key-0001",
 "X-API-Key: keep-key-0001", "X-API-Key: slow-key-0001"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers_like eval
["RateLimit: \"quota\";r=9;t=86400",
 "RateLimit: \"quota\";r=8;t=(86400|86399)",
 "RateLimit: \"quota\";r=7;t=(86400|86399)",
 "RateLimit: \"rate\";r=0;t=60"]
--- no_error_log
[error]
[alert]



=== TEST 2: after a restart the quota goes on from 3, the rate still holds
--- config
    # not the config of TEST 1: nginx is restarted whatever
    # TEST_NGINX_FORCE_RESTART_ON_TEST says
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
Test::More::ok($main::NginxPid && main::nginx_pid() != $main::NginxPid,
               'nginx was restarted');
Test::More::is(main::used('keep-key-0001'), 3,
               'the store holds the 3 requests counted before');
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: keep-key-0001", "X-API-Key: slow-key-0001"]
--- error_code eval
[200, 429]
--- response_headers_like eval
["RateLimit: \"quota\";r=6;t=(86400|8639\\d)",
 "RateLimit: \"rate\";r=0;t=(5\\d|60)\nRetry-After: (5\\d|60)"]
--- no_error_log
[error]
[alert]



=== TEST 3: flush=100ms: counts reach the store while nginx runs
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist flush=100ms;
    apim_plan keep quota=10/day quota_window=rolling;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
Test::More::is(main::get('/t', 'X-API-Key: flush-key-0001'), 200,
               "request $_ passed") for 1 .. 3;

my $used = -1;

for (1 .. 20) {
    Time::HiRes::sleep(0.1);
    $used = main::used('flush-key-0001');
    last if $used == 3;
}

Test::More::is($used, 3, 'the store holds 3 within 2 s');
--- request
GET /t
--- more_headers
X-API-Key: flush-key-0001
--- error_code: 200
--- response_headers_like
RateLimit: "quota";r=6;t=(86400|8639\d)
--- no_error_log
[error]
[alert]
