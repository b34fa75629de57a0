# Helpers of the plain Test::More suites of apimctl (t/050 to t/052):
# apimctl_tmp() checks that apimctl is built, clears APIM_STORE and makes
# the suite's temporary directory; run() runs apimctl there and returns
# (exit status, stdout, stderr); slurp, fields, from_rfc3339, and
# usage_error and failure, which check a refusal's exit code and message.
# $Hint is the last line of a usage error.

package ApimTest::Cli;

use strict;
use warnings;

use Exporter 'import';
use File::Spec;
use File::Temp qw(tempdir);
use Test::More ();
use Time::Local qw(timegm);

our @EXPORT = qw($Hint apimctl_tmp run slurp fields from_rfc3339
                 usage_error failure);

our $Bin = File::Spec->rel2abs($ENV{APIMCTL_BIN} // 'tools/apimctl');
our $Hint = "see apimctl --help\n";

my $tmp;
my $seq = 0;

# the suite's temporary directory, from a tempdir template; ends the
# suite with a failure unless apimctl is built

sub apimctl_tmp {
    my ($template) = @_;

    unless (-x $Bin) {
        Test::More::fail("$Bin is built (make tools/apimctl)");
        Test::More::done_testing();
        exit;
    }

    delete $ENV{APIM_STORE};

    $tmp = tempdir($template, TMPDIR => 1, CLEANUP => 1);

    return $tmp;
}

# runs apimctl; returns (exit status, stdout, stderr); a hash first may
# give its stdin (text) and a file for its stdout

sub run {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my @args = @_;

    $seq++;

    my ($in, $out, $err) = map { "$tmp/run$seq.$_" } qw(in out err);

    open my $fh, '>:raw', $in or die "$in: $!";
    print $fh $opt->{stdin} // '';
    close $fh;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', $in or die;
        open STDOUT, '>', $opt->{stdout} // $out or die;
        open STDERR, '>', $err or die;
        exec $Bin, @args or exit 127;
    }

    waitpid $pid, 0;

    return ($? >> 8, slurp($out), slurp($err));
}

sub slurp {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return '';
    local $/;
    my $s = <$fh>;

    return $s // '';
}

sub fields {
    my ($text) = @_;

    return { map { /^([a-z_]+): (.*)$/ ? ($1, $2) : () } split /\n/, $text };
}

sub from_rfc3339 {
    my ($s) = @_;

    my ($y, $mo, $d, $h, $mi, $sec)
        = $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/ or return;

    return timegm($sec, $mi, $h, $d, $mo - 1, $y);
}

# apimctl refusing bad usage: exit 2, the message, the hint, no stdout

sub usage_error {
    my ($name, $args, $re) = @_;

    my ($rc, $out, $err) = run(@$args);

    Test::More::is($rc, 2, "$name: exit 2");
    Test::More::like($err, $re, "$name: the message");
    Test::More::like($err, qr/\n\Q$Hint\E\z/, "$name: the hint");
    Test::More::is($out, '', "$name: nothing on stdout");
}

# apimctl failing: exit 1, "apimctl: MSG", no stdout

sub failure {
    my ($name, $args, $msg) = @_;

    my ($rc, $out, $err) = run(@$args);

    Test::More::is($rc, 1, "$name: exit 1");
    Test::More::is($err, "apimctl: $msg\n", "$name: the message");
    Test::More::is($out, '', "$name: nothing on stdout");
}

1;
