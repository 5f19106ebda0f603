import t from 'tap'
import { adminVerdict, flagValue, runsGatewayFor } from '../../src/remove/managed'

t.test('runsGatewayFor: which command lines run a gateway for service "api"', async (t) => {
  const cases: Array<[string[], boolean, string]> = [
    [['--runtime=swarm', '--network=symphony-api', '--image=symphony-test-api:latest', '--service=api'], true, 'the stack file\'s = form'],
    [['node', 'bin/symphony.js', '--service', 'api', '--image', 'x'], true, 'the spaced form'],
    [['--image', 'registry.example.com/team/api:1.4'], true, 'no --service: derived from the image, as the CLI does'],
    [['--image', 'my-api:latest'], false, 'an image whose derived name is another service'],
    [['--service', 'api2'], false, 'another service'],
    [['--service', 'other', '--service', 'api'], true, 'the last --service counts, as for the CLI'],
    [['remove', '--service', 'api'], false, 'a remove command is not a gateway'],
    [['node', 'server.js'], false, 'a replica: the API itself'],
    [[], false, 'no arguments']
  ]
  for (const [args, want, why] of cases) t.equal(runsGatewayFor(args, 'api'), want, `${why}: ${JSON.stringify(args)}`)
  t.equal(flagValue(['--service'], 'service'), null, 'a flag without a value names nothing')
})

t.test('adminVerdict: what an admin /status answer says', async (t) => {
  t.equal(adminVerdict(200, '{"service":"api","backends":[]}', 'api'), 'manages')
  t.equal(adminVerdict(200, '{"service":"other"}', 'api'), 'other-service')
  t.equal(adminVerdict(401, '', 'api'), 'needs-token', 'a token-protected admin API cannot say which service: refused, not guessed')
  t.equal(adminVerdict(200, '<html>', 'api'), 'not-symphony', 'something else on that port')
  t.equal(adminVerdict(404, '{}', 'api'), 'not-symphony')
})
