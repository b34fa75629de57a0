# Block sections the suites add to Test::Nginx: add_sections(NAMES)
# registers each with add_response_body_check, in the order given, at the
# place of the suite where it is called (checks run in the order they were
# added):
#
#   --- after_response eval: { request index => code }, run with the body
#   once that response has been checked, before the next request is sent
#
#   --- workers_seen: n: the bodies "worker <pid>" of the block's requests
#   name n different worker processes (checked after its last request)

package ApimTest::Sections;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(add_sections);

my %Seen;           # block name -> worker pid -> 1

my %Check = (

    after_response => sub {
        my ($block, $body, $idx) = @_;

        return unless $block->can('after_response')
                      && defined $block->after_response;

        my $code = $block->after_response->{$idx} or return;

        $code->($body);
    },

    workers_seen => sub {
        my ($block, $body, $idx) = @_;

        return unless $block->can('workers_seen')
                      && defined $block->workers_seen;

        my $name = $block->name;
        my $last = ref $block->request eq 'ARRAY' ? $#{ $block->request } : 0;

        $Seen{$name}{$1} = 1 if ($body // '') =~ /\Aworker (\d+)\n\z/;

        return if $idx < $last;

        Test::More::is(scalar keys %{ $Seen{$name} || {} },
                       $block->workers_seen, "$name - workers seen");
    },
);

my %Added;

sub add_sections {
    my (@names) = @_;

    for my $name (@names) {
        my $check = $Check{$name}
            or die "ApimTest::Sections: no section \"$name\"\n";

        main::add_response_body_check($check) unless $Added{$name}++;
    }
}

1;
