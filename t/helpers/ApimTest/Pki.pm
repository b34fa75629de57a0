# The openssl-made PKI of the SPIFFE identity suites (t/070 to t/073): a
# directory $Pki (set by the suite, beside the server root) with an
# openssl.cnf and index for "openssl ca", one EC key that every leaf
# shares, CAs (ca) and leaf certificates with chosen extensions and
# validity (leaf); openssl() runs openssl with a list of arguments.  All
# exported into main, where --- init and eval sections call them as
# main::leaf() or read $main::Pki, under either Test::Nginx runner.

package ApimTest::Pki;

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Temp ();
use POSIX ();

our @EXPORT = qw($Pki openssl spew asn1_time ca leaf pki);

our $Pki;

# runs openssl; dies with its stderr unless it succeeds

sub openssl {
    my @args = @_;

    my $err = File::Temp->new;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', '/dev/null' or die "stdout: $!";
        open STDERR, '>&', $err or die "stderr: $!";
        exec 'openssl', @args or POSIX::_exit(127);
    }

    waitpid $pid, 0;

    if ($?) {
        seek $err, 0, 0;
        local $/;
        die "openssl @args: " . (<$err> // '') . "\n";
    }
}

sub spew {
    my ($file, $text) = @_;

    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;
}

sub asn1_time {
    return POSIX::strftime('%Y%m%d%H%M%SZ', gmtime(time + shift));
}

# a CA: NAME.key and NAME.crt, self-signed, CA:TRUE

sub ca {
    my ($name) = @_;

    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout',
            '-out', "$Pki/$name.key");
    openssl('req', '-new', '-x509', '-config', "$Pki/openssl.cnf",
            '-extensions', 'ca_ext', '-key', "$Pki/$name.key",
            '-subj', "/O=nginx-apim tests/CN=$name", '-days', '30',
            '-out', "$Pki/$name.crt");
}

# a leaf certificate NAME.crt for the shared leaf key, signed by a CA
# (ca => NAME, or self => 1), with these extensions:
#   san => 'URI:...' (none when undef), bc => basicConstraints,
#   ku => keyUsage, eku => extendedKeyUsage,
#   from/to => validity in seconds from now

sub leaf {
    my ($name, %o) = @_;

    my %ext = (bc => 'critical,CA:FALSE', ku => 'critical,digitalSignature',
               eku => 'serverAuth,clientAuth', from => -3600,
               to => 30 * 86400, ca => 'ca', %o);

    my $ext = "[leaf]\nbasicConstraints = $ext{bc}\n"
              . "keyUsage = $ext{ku}\nextendedKeyUsage = $ext{eku}\n";

    if (defined $ext{san}) {
        (my $san = $ext{san}) =~ s/([#\$])/\\$1/g;
        $ext .= "subjectAltName = $san\n";
    }

    spew("$Pki/$name.ext", $ext);

    openssl('req', '-new', '-config', "$Pki/openssl.cnf",
            '-key', "$Pki/leaf.key", '-subj', "/O=nginx-apim tests/CN=$name",
            '-out', "$Pki/$name.csr");

    if ($ext{self}) {
        openssl('x509', '-req', '-in', "$Pki/$name.csr",
                '-signkey', "$Pki/leaf.key", '-extfile', "$Pki/$name.ext",
                '-extensions', 'leaf', '-days', '30',
                '-out', "$Pki/$name.crt");
        return;
    }

    openssl('ca', '-batch', '-config', "$Pki/openssl.cnf", '-notext',
            '-name', 'ca_default',
            '-keyfile', "$Pki/$ext{ca}.key", '-cert', "$Pki/$ext{ca}.crt",
            '-startdate', asn1_time($ext{from}),
            '-enddate', asn1_time($ext{to}),
            '-extfile', "$Pki/$name.ext", '-extensions', 'leaf',
            '-in', "$Pki/$name.csr", '-out', "$Pki/$name.crt");
}

sub pki {
    remove_tree($Pki);
    make_path("$Pki/new");
    spew("$Pki/index.txt", '');

    spew("$Pki/openssl.cnf", <<"_EOC_");
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[ca_default]
database = $Pki/index.txt
new_certs_dir = $Pki/new
rand_serial = yes
unique_subject = no
default_md = sha256
policy = any
copy_extensions = none

[any]
commonName = supplied
organizationName = optional
_EOC_

    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout',
            '-out', "$Pki/leaf.key");
}

1;
