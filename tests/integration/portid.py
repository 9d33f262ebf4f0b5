#!/usr/bin/env python3
"""Checks the target port identity a LUN reports through each portal.

For every --portal PORT:TAG:RTPI it logs in through 127.0.0.1:PORT, sends
INQUIRY for the Device Identification VPD page (83h) and checks the
target-port designators (SPC-4 7.8.6): the relative target port identifier
(designator type 4) equals RTPI, the SCSI name string of the port ends in
",t,0x<TAG>" (RFC 7143 / SPC-4 iSCSI target port name), and the LU's NAA
designator is the same through every portal (one device, several ports).

iscsi-inq cannot print binary designators, so this speaks iSCSI itself,
with the PDU helpers of badpdu.py (Python 3 standard library only).

usage: portid.py --target IQN --lun N --portal 3260:1:1 --portal 3261:2:2
Prints "PASS portid.<what>" or "FAIL portid.<what>: reason" lines; exit
status 1 if any failed.
"""
import argparse
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import badpdu  # noqa: E402


def portid_inquiry_vpd(conn, page, alloc=1024):
    """INQUIRY EVPD=1: returns (status, data)."""
    cdb = bytes([0x12, 0x01, page]) + struct.pack('>H', alloc) + b'\0'
    conn.send(badpdu.badpdu_scsi_cmd(conn, cdb, 0x80 | 0x40 | 1, alloc, 0))
    data = b''
    while True:
        bhs, seg = conn.recv_pdu()
        op = bhs[0] & 0x3f
        if op == badpdu.OP_DATA_IN:
            data += seg
            if bhs[1] & 0x01:           # S: status in this PDU
                return bhs[3], data
        elif op == badpdu.OP_SCSI_RSP:
            return bhs[3], data
        elif op == badpdu.OP_REJECT:
            return -1, b''


def portid_designators(page):
    """Yields (association, type, code_set, value) of a VPD 83h page."""
    if len(page) < 4 or page[1] != 0x83:
        return
    end = min(len(page), 4 + struct.unpack('>H', page[2:4])[0])
    off = 4
    while off + 4 <= end:
        code_set = page[off] & 0x0f
        assoc = (page[off + 1] >> 4) & 0x03
        dtype = page[off + 1] & 0x0f
        dlen = page[off + 3]
        yield assoc, dtype, code_set, page[off + 4:off + 4 + dlen]
        off += 4 + dlen


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--target', required=True)
    p.add_argument('--lun', type=int, default=0)
    p.add_argument('--initiator', default='iqn.2026-11.org.ctgt:portid')
    p.add_argument('--portal', action='append', required=True,
                   help='PORT:TAG:RTPI')
    p.add_argument('--timeout', type=float, default=10.0)
    a = p.parse_args()

    failed = 0
    naas = {}
    for spec in a.portal:
        port, tag, rtpi = (int(x) for x in spec.split(':'))
        name = 'portid.port%d' % port
        try:
            c = badpdu.BadpduConn(a.host, port, a.timeout)
            c.login(a.initiator, a.target)
            c.lun = badpdu.badpdu_lun(a.lun)
            for _ in range(3):                  # unit attentions first
                status, page = portid_inquiry_vpd(c, 0x83)
                if status != 0x02:
                    break
            c.close()
        except Exception as e:  # noqa: BLE001 -- any failure is the answer
            print('FAIL %s: INQUIRY VPD 83h: %s: %s' % (name, type(e).__name__, e))
            failed += 1
            continue
        if status != 0:
            print('FAIL %s: INQUIRY VPD 83h: status 0x%02x' % (name, status))
            failed += 1
            continue
        got_rtpi = got_name = None
        for assoc, dtype, code_set, value in portid_designators(page):
            if assoc == 1 and dtype == 4 and len(value) >= 4:
                got_rtpi = struct.unpack('>H', value[2:4])[0]
            elif assoc == 1 and dtype == 8:
                got_name = value.rstrip(b'\0').decode('utf-8', 'replace')
            elif assoc == 0 and dtype == 3:
                naas[port] = value.hex()
        want_name = '%s,t,0x%04x' % (a.target, tag)
        problems = []
        if got_rtpi != rtpi:
            problems.append('relative target port identifier %s, want %d'
                            % (got_rtpi, rtpi))
        if got_name is None or got_name.lower() != want_name:
            problems.append('target port name %r, want %r' % (got_name, want_name))
        if problems:
            print('FAIL %s: %s' % (name, '; '.join(problems)))
            failed += 1
        else:
            print('PASS %s (RTPI %d, %s)' % (name, got_rtpi, got_name))
    if len(set(naas.values())) > 1 or len(naas) != len(a.portal):
        print('FAIL portid.same_lu: NAA designators per port: %s' % naas)
        failed += 1
    else:
        print('PASS portid.same_lu (NAA %s through every port)'
              % next(iter(naas.values()), '?'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
