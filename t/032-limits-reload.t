# Quotas across a reload (issue 3): "nginx -s reload" keeps the shared zone
# and its counts, so a key admitted 3 times before the reload is admitted
# exactly 2 more times after it with quota=5, whichever worker serves.
#
# The requests around the reload are sent from --- init (which runs once
# nginx is up), each on a new connection, and checked there with
# Test::More; the reload is a SIGHUP to the master, and the new workers are
# waited for before the second half.
#
#   prove -I t/lib t/032-limits-reload.t   (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use File::Path qw(remove_tree);
use IO::Socket::INET ();
use Time::HiRes ();

master_on();
workers(2);

our $Store = server_root() . '.store-reload';
our $Ctl = $ENV{APIMCTL_BIN} // 'tools/apimctl';

remove_tree($Store);

system($Ctl, '-s', $Store, 'consumer', 'add', 'rita', '--plan', 'five') == 0
    or die "apimctl consumer add failed";
system("$Ctl -s $Store key import --consumer rita reload-key-0001 "
       . '> /dev/null') == 0
    or die "apimctl key import failed";

END { remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE} }

# one request on a new connection: its status

sub status {
    local $SIG{ALRM} = sub { die "GET /t: timed out\n" };
    alarm 10;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";

    print $sock "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                . "X-API-Key: reload-key-0001\r\n\r\n";

    local $/;
    my $resp = <$sock> // '';
    close $sock;

    alarm 0;

    return ($resp =~ m{^HTTP/1\.[01] (\d{3}) }) ? $1 : 0;
}

# the workers' pids, children of the master

sub workers_of {
    my ($master) = @_;

    my @pids;

    for my $dir (glob '/proc/[0-9]*') {
        open my $fh, '<', "$dir/stat" or next;
        my $stat = <$fh> // '';
        close $fh;

        my ($pid, $ppid) = $stat =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }

    return sort @pids;
}

sub reload_between {
    my $pidfile = server_root() . '/logs/nginx.pid';

    open my $fh, '<', $pidfile or die "$pidfile: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my @before = map { status() } 1 .. 3;

    my @old = workers_of($master);

    kill 'HUP', $master or die "kill -HUP $master: $!";

    # the reload is done when none of the old workers is left
    for (1 .. 200) {
        my %now = map { $_ => 1 } workers_of($master);
        last if !grep { $now{$_} } @old and %now;
        Time::HiRes::sleep(0.05);
    }

    my @after = map { status() } 1 .. 3;

    Test::More::is("@before", '200 200 200', 'before the reload: 3 of 5');
    Test::More::is("@after", '200 200 429',
                   'after the reload: 2 more, then the quota is used up');
}

run_tests();

__DATA__

=== TEST 1: a reload keeps the counts: quota=5 admits exactly 5 across it
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-reload;
    apim_plan five quota=5/day quota_window=rolling;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
main::reload_between();
--- request
GET /t
--- more_headers
X-API-Key: reload-key-0001
--- error_code: 429
--- response_headers
RateLimit-Policy: "quota";q=5;w=86400
--- no_error_log
[error]
[alert]
