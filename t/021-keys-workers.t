# API keys and quotas with a master and two workers (issue 3): a key added
# or revoked with apimctl while nginx runs is seen by every worker on the
# very next request, without a reload; and a quota is one count shared by
# the workers, exact under concurrent clients.
#
# The requests that must be interleaved with apimctl are sent from --- init
# (which runs once nginx is up), each on a new connection, and checked there
# with Test::More; a worker is told apart by $pid in a response header.
#
#   prove -I t/lib t/021-keys-workers.t   (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Path qw(remove_tree);
use POSIX ();
use IO::Socket::INET ();

master_on();
workers(2);

our $Store = server_root() . '.store-workers-keys';
our %Id;

# one request on a new connection: (status, the worker's pid)

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

    my ($status) = $resp =~ m{^HTTP/1\.[01] (\d{3}) };
    my ($pid) = $resp =~ /^X-Worker: (\d+)\r$/m;

    return ($status // 0, $pid // 0);
}

# sends requests until each of the two workers has answered $n of them
# (at most 400 requests); returns the statuses, by worker

sub each_worker {
    my ($n, $path, @headers) = @_;

    my %by;

    for (1 .. 400) {
        my ($status, $pid) = get($path, @headers);

        push @{ $by{$pid} }, $status;

        last if keys %by >= 2 && !grep { @$_ < $n } values %by;
    }

    return \%by;
}

sub all_are {
    my ($by, $status, $name) = @_;

    my @pids = sort keys %$by;
    my @all = map { @$_ } values %$by;

    Test::More::is(scalar @pids, 2, "$name: both workers answered");
    Test::More::is(scalar(grep { $_ != $status } @all), 0,
                   "$name: all " . scalar(@all) . " answers are $status")
        or Test::More::diag(join ' ', map { "$_: @{ $by->{$_} }" } @pids);
}

remove_tree($Store);

apimctl('consumer', 'add', 'alice', '--plan', 'gold');
apimctl('consumer', 'add', 'pool', '--plan', 'pool');

$Id{'pool-key-0001'} = apimctl('key', 'import', '--consumer', 'pool',
                               'pool-key-0001');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-workers-keys;
    apim_plan gold;
    apim_plan pool quota=100/day quota_window=rolling;
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

=== TEST 1: a key added and then revoked while nginx runs: every worker sees both at once
--- config
    location = /t {
        apim_key;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
my $by = main::each_worker(3, '/t', 'X-API-Key: live-key-0001');
main::all_are($by, 401, 'before the key exists');

$main::Id{'live-key-0001'}
    = main::apimctl('key', 'import', '--consumer', 'alice', 'live-key-0001');

$by = main::each_worker(3, '/t', 'X-API-Key: live-key-0001');
main::all_are($by, 200, 'once the key is added');

main::apimctl('key', 'revoke', $main::Id{'live-key-0001'});

$by = main::each_worker(3, '/t', 'X-API-Key: live-key-0001');
main::all_are($by, 401, 'once the key is revoked');
--- request
GET /t
--- more_headers
X-API-Key: live-key-0001
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="api"
--- no_error_log
[error]
[alert]



=== TEST 2: quota=100: 200 requests of 20 concurrent clients, exactly 100 pass
--- config
    location = /t {
        apim_key;
        add_header X-Worker $pid always;
        empty_gif;
    }
--- init
my (@kids, %status, %workers);

for my $client (1 .. 20) {
    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        my @out;

        for (1 .. 10) {
            my ($status, $worker) = eval {
                main::get('/t', 'X-API-Key: pool-key-0001')
            };
            push @out, $@ ? "0 0" : "$status $worker";
        }

        print "$_\n" for @out;
        POSIX::_exit(0);
    }

    push @kids, $fh;
}

for my $fh (@kids) {
    while (my $line = <$fh>) {
        my ($status, $worker) = split ' ', $line;
        $status{$status}++;
        $workers{$worker}++ if $worker;
    }

    close $fh;
}

Test::More::is($status{200} // 0, 100, 'exactly 100 requests passed');
Test::More::is($status{429} // 0, 100, 'exactly 100 were refused with 429');
Test::More::is(scalar keys %status, 2, 'no other status')
    or Test::More::diag(join ' ', map { "$_: $status{$_}" } sort keys %status);
Test::More::is(scalar keys %workers, 2, 'both workers answered');
--- request
GET /t
--- more_headers
X-API-Key: pool-key-0001
--- error_code: 429
--- response_headers_like
RateLimit: "quota";r=0;t=\d+
Retry-After: \d+
--- timeout: 10
--- no_error_log
[error]
[alert]
