# apimctl runners the suites share: ctl() runs apimctl on the suite's store
# and returns (exit code, stdout, stderr); apimctl() is the one that must
# succeed.  The suite sets $Store (and may set $Ctl); both, and the subs,
# are exported into main, where --- init and eval sections call them as
# main::apimctl() or read $main::Store, under either Test::Nginx runner.

package ApimTest::Ctl;

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use POSIX ();

our @EXPORT = qw($Store $Ctl ctl apimctl);

our $Store;
our $Ctl = $ENV{APIMCTL_BIN} // 'tools/apimctl';

# apimctl on the store: (exit code, stdout, stderr)

sub ctl {
    my @args = @_;

    my $err = File::Temp->new;
    my $pid = open(my $out, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', $err or POSIX::_exit(127);
        exec $Ctl, '-s', $Store, @args or POSIX::_exit(127);
    }

    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? >> 8;

    seek $err, 0, 0;
    my $msg = <$err> // '';

    return ($rc, $text, $msg);
}

# apimctl that must succeed: its stdout, without the last newline

sub apimctl {
    my ($rc, $out, $err) = ctl(@_);

    die "apimctl @_: exit $rc: $err" if $rc;

    $out =~ s/\n\z//;
    return $out;
}

1;
