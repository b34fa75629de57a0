# apimctl runners the suites share: ctl() runs apimctl on the suite's store
# and returns (exit code, stdout, stderr); apimctl() is the one that must
# succeed, returning its stdout without the last newline; ctl_on() and
# apimctl_on() take another store first.  On request (@EXPORT_OK): %Id,
# key() that imports a key and keeps its id there, and consumer() that
# adds a consumer on a plan with the keys given.  The suite sets $Store (and may
# set $Ctl); both, and the subs, are exported into main, where --- init and
# eval sections call them as main::apimctl() or read $main::Store, under
# either Test::Nginx runner.

package ApimTest::Ctl;

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use POSIX ();

our @EXPORT = qw($Store $Ctl ctl ctl_on apimctl apimctl_on);
our @EXPORT_OK = qw(%Id key consumer);

our $Store;
our $Ctl = $ENV{APIMCTL_BIN} // 'tools/apimctl';
our %Id;            # key text -> key id

# apimctl on a store: (exit code, stdout, stderr); killed by a signal, the
# code is 128 + the signal's number

sub ctl_on {
    my ($store, @args) = @_;

    my $err = File::Temp->new;
    my $pid = open(my $out, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', $err or POSIX::_exit(127);
        exec $Ctl, '-s', $store, @args or POSIX::_exit(127);
    }

    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;

    seek $err, 0, 0;
    my $msg = <$err> // '';

    return ($rc, $text, $msg);
}

sub ctl {
    return ctl_on($Store, @_);
}

# apimctl that must succeed: its stdout, without the last newline

sub apimctl_on {
    my ($store, @args) = @_;

    my ($rc, $out, $err) = ctl_on($store, @args);

    die "apimctl @args: exit $rc: $err" if $rc;

    $out =~ s/\n\z//;
    return $out;
}

sub apimctl {
    return apimctl_on($Store, @_);
}

# a key imported for a consumer; its id kept in %Id

sub key {
    my ($key, $consumer, @opts) = @_;

    $Id{$key} = apimctl('key', 'import', '--consumer', $consumer, @opts,
                        $key);
}

# a consumer on the plan, with the keys given

sub consumer {
    my ($name, $plan, @keys) = @_;

    apimctl('consumer', 'add', $name, '--plan', $plan);

    key($_, $name) for @keys;
}

1;
