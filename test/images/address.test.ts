import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressRange, isInternalAddress } from '../../src/images/index.js';
import { ipLiteral } from '../../src/images/address.js';

test('internal addresses are refused: loopback, RFC 1918, CGNAT, link-local and metadata, v6 local, unspecified', () => {
  const internal = ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '2002:7f00:1::1', 'ff02::1'];
  for (const a of internal) assert.ok(isInternalAddress(a), a);
});

test('public unicast addresses are allowed, including neighbours of private ranges', () => {
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '11.0.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.ok(!isInternalAddress(a), a);
});

test('ranges are named, and what is not an address counts as internal', () => {
  assert.equal(addressRange('169.254.169.254'), 'linkLocal');
  assert.equal(addressRange('100.64.0.1'), 'carrierGradeNat');
  assert.equal(addressRange('fd00::1'), 'uniqueLocal');
  assert.equal(addressRange('::ffff:192.168.0.1'), 'private');
  assert.ok(isInternalAddress('not-an-ip'));
  assert.ok(isInternalAddress(''));
});

test('ipLiteral: IP hosts (bracketed v6 too) are literals, names are not', () => {
  assert.equal(ipLiteral('[::1]'), '::1');
  assert.equal(ipLiteral('10.0.0.1'), '10.0.0.1');
  assert.equal(ipLiteral('example.com'), null);
  assert.equal(ipLiteral(new URL('http://0x7f.1/').hostname), '127.0.0.1');
});
