#!/usr/bin/env python3
"""Prints the REPORT TARGET PORT GROUPS answer of a LUN through one portal.

Logs in through HOST:PORT, sends REPORT TARGET PORT GROUPS (MAINTENANCE
IN, service action 0Ah; SPC-4 6.27) with parameter data format 0, and
prints one line: the groups in the order reported, each as
"G=STATE:RTPI,RTPI" joined by spaces, STATE one of AO AN S U T or the
hex value (table 167); e.g. "1=AO:1 2=AO:2 3=U:3". Unit attentions are
taken and the command retried. libiscsi-bin has no RTPG tool, so this
speaks iSCSI itself with the PDU helpers of badpdu.py (Python 3 standard
library only), like portid.py.

With --tur it sends TEST UNIT READY instead (after the unit attentions)
and prints "GOOD" or "CHECK KEY/ASC/ASCQ" in hex, e.g. "CHECK 02/04/0C"
(LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE).

usage: rtpg.py --host 10.0.0.1 --port 3260 --target IQN [--lun N] [--tur]
Exit status 0 with the line, 1 with "ERROR reason" on stdout.
"""
import argparse
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import badpdu  # noqa: E402

STATES = {0x0: 'AO', 0x1: 'AN', 0x2: 'S', 0x3: 'U', 0xf: 'T'}


def rtpg_run(conn, cdb, alloc):
    """One command reading up to alloc bytes: returns (status, data or
    sense data)."""
    flags = 0x80 | 0x40 | 1 if alloc else 0x80 | 1
    conn.send(badpdu.badpdu_scsi_cmd(conn, cdb, flags, alloc, 0))
    data = b''
    while True:
        bhs, seg = conn.recv_pdu()
        op = bhs[0] & 0x3f
        if op == badpdu.OP_DATA_IN:
            data += seg
            if bhs[1] & 0x01:           # S: status in this PDU
                return bhs[3], data
        elif op == badpdu.OP_SCSI_RSP:
            if bhs[3] == 0x02 and len(seg) >= 2:    # sense length, sense
                return bhs[3], seg[2:2 + struct.unpack('>H', seg[0:2])[0]]
            return bhs[3], data
        elif op == badpdu.OP_REJECT:
            return -1, b''


def rtpg_command(conn, alloc=4096):
    """REPORT TARGET PORT GROUPS: returns (status, data)."""
    cdb = bytes([0xa3, 0x0a, 0, 0, 0, 0]) + struct.pack('>I', alloc) + b'\0\0'
    return rtpg_run(conn, cdb, alloc)


def rtpg_sense_is_ua(sense):
    """Whether fixed-format sense data is UNIT ATTENTION."""
    return len(sense) > 2 and sense[2] & 0x0f == 0x6


def rtpg_groups(data):
    """'G=STATE:RTPI,...' per descriptor (SPC-4 tables 164, 166, 168)."""
    if len(data) < 4:
        return None
    end = min(len(data), 4 + struct.unpack('>I', data[0:4])[0])
    off, out = 4, []
    while off + 8 <= end:
        state = data[off] & 0x0f
        group = struct.unpack('>H', data[off + 2:off + 4])[0]
        count = data[off + 7]
        rtpis = []
        off += 8
        for _ in range(count):
            rtpis.append(str(struct.unpack('>H', data[off + 2:off + 4])[0]))
            off += 4
        out.append('%d=%s:%s' % (group, STATES.get(state, '%x' % state),
                                 ','.join(rtpis)))
    return ' '.join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=3260)
    p.add_argument('--target', required=True)
    p.add_argument('--lun', type=int, default=0)
    p.add_argument('--initiator', default='iqn.2026-11.org.ctgt:rtpg')
    p.add_argument('--timeout', type=float, default=10.0)
    p.add_argument('--tur', action='store_true')
    a = p.parse_args()
    try:
        c = badpdu.BadpduConn(a.host, a.port, a.timeout)
        c.login(a.initiator, a.target)
        c.lun = badpdu.badpdu_lun(a.lun)
        for _ in range(4):                  # unit attentions first
            if a.tur:
                status, data = rtpg_run(c, bytes(6), 0)
            else:
                status, data = rtpg_command(c)
            if status != 0x02 or not rtpg_sense_is_ua(data):
                break
        c.close()
    except Exception as e:  # noqa: BLE001 -- any failure is the answer
        print('ERROR %s: %s' % (type(e).__name__, e))
        return 1
    if a.tur:
        if status == 0:
            print('GOOD')
        elif status == 0x02 and len(data) >= 14:
            print('CHECK %02X/%02X/%02X' % (data[2] & 0x0f, data[12], data[13]))
        else:
            print('ERROR status 0x%02x' % (status & 0xff))
            return 1
        return 0
    if status != 0:
        print('ERROR status 0x%02x' % (status & 0xff))
        return 1
    line = rtpg_groups(data)
    if line is None:
        print('ERROR short data (%d bytes)' % len(data))
        return 1
    print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
