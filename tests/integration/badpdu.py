#!/usr/bin/env python3
"""Malformed-PDU tests: feeds an iSCSI target hand-built bad PDUs.

Each case opens a fresh TCP connection (most first log in: AuthMethod=None,
a normal session), sends one malformed PDU and waits, bounded, for the
target's answer. The target passes a case when it answers with a Reject PDU
(opcode 0x3f), a login failure status, or drops the connection -- never when
it stays silent past the timeout -- and when a fresh session can still log
in and get a NOP-In back afterwards.

Python 3 standard library only; PDUs are packed by hand with struct, so no
initiator library can "fix" them on the way out. The PDU layouts are those of
RFC 7143 section 11.

usage: badpdu.py --port P --target IQN [--host H] [--initiator IQN]
                 [--timeout SECONDS]
Prints "PASS badpdu.<case>" or "FAIL badpdu.<case>: <reason>" per case;
exit status 1 if any case failed.
"""
import argparse
import socket
import struct
import sys
import time

OP_NOP_OUT = 0x00
OP_SCSI_CMD = 0x01
OP_LOGIN_REQ = 0x03
OP_DATA_OUT = 0x05
OP_NOP_IN = 0x20
OP_DATA_IN = 0x25
OP_SCSI_RSP = 0x21
OP_LOGIN_RSP = 0x23
OP_REJECT = 0x3f
F_IMMEDIATE = 0x40

ISID = bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x9a])  # random-qualifier format


def badpdu_pad4(b):
    return b + b'\0' * (-len(b) % 4)


def badpdu_bhs(op, flags=0, ahs_len=0, dsl=0, lun_or_isid=b'\0' * 8,
               itt=0, word20=0, word24=0, word28=0, tail=b''):
    """48-byte Basic Header Segment (RFC 7143 11.2.1)."""
    if not 0 <= dsl <= 0xffffff:
        raise ValueError('dsl')
    hdr = struct.pack('>BBH', op, flags, 0)
    hdr += struct.pack('>B', ahs_len) + dsl.to_bytes(3, 'big')
    hdr += lun_or_isid + struct.pack('>IIII', itt, word20, word24, word28)
    tail = tail.ljust(16, b'\0')
    assert len(hdr) + len(tail) == 48
    return hdr + tail


def badpdu_keys(pairs):
    return b''.join(('%s=%s' % kv).encode() + b'\0' for kv in pairs)


class BadpduClosed(Exception):
    pass


class BadpduConn:
    """One TCP connection and the little session state a test needs."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        self.lun = badpdu_lun(0)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                raise BadpduClosed()
            if not chunk:
                raise BadpduClosed()
            buf += chunk
        return buf

    def recv_pdu(self):
        """Returns (bhs, data). Raises BadpduClosed or socket.timeout."""
        bhs = self.recv_exact(48)
        ahs = bhs[4] * 4
        dsl = int.from_bytes(bhs[5:8], 'big')
        if ahs:
            self.recv_exact(ahs)
        data = self.recv_exact(dsl + (-dsl % 4))[:dsl] if dsl else b''
        op = bhs[0] & 0x3f
        # Responses that consume a StatSN: NOP-In, SCSI/TMF/Text/Login/
        # Logout Response, Reject.
        if op in (OP_NOP_IN, OP_SCSI_RSP, 0x22, 0x24, OP_LOGIN_RSP, 0x26,
                  OP_REJECT):
            statsn = struct.unpack('>I', bhs[24:28])[0]
            self.expstatsn = (statsn + 1) & 0xffffffff
        return bhs, data

    def login_pdu(self, csg, nsg, transit, data, isid=ISID):
        flags = (0x80 if transit else 0) | (csg << 2) | nsg
        pdu = badpdu_bhs(F_IMMEDIATE | OP_LOGIN_REQ, flags, 0, len(data),
                         isid + b'\0\0', self.itt, 0,  # CID 0
                         self.cmdsn, self.expstatsn)
        return pdu + badpdu_pad4(data)

    def login(self, initiator, target):
        """Security stage (AuthMethod=None) then operational stage."""
        steps = [
            (0, 1, [('InitiatorName', initiator), ('SessionType', 'Normal'),
                    ('TargetName', target), ('AuthMethod', 'None')]),
            (1, 3, [('HeaderDigest', 'None'), ('DataDigest', 'None'),
                    ('MaxRecvDataSegmentLength', '262144'),
                    ('InitialR2T', 'Yes'), ('ImmediateData', 'Yes'),
                    ('ErrorRecoveryLevel', '0')]),
        ]
        stage = 0
        rounds = 0
        while rounds < 8:
            rounds += 1
            csg, nsg, keys = steps[stage]
            self.send(self.login_pdu(csg, nsg, True, badpdu_keys(keys)))
            bhs, _ = self.recv_pdu()
            if bhs[0] & 0x3f != OP_LOGIN_RSP:
                raise RuntimeError('login: opcode 0x%02x' % (bhs[0] & 0x3f))
            if bhs[36] != 0:
                raise RuntimeError('login: status 0x%02x%02x' % (bhs[36], bhs[37]))
            transit, rnsg = bhs[1] & 0x80, bhs[1] & 3
            if transit and rnsg == 3:
                self.cmdsn = struct.unpack('>I', bhs[28:32])[0]
                return
            if transit and rnsg == 1:
                stage = 1
            # else: the target wants another round in the same stage
        raise RuntimeError('login: no transition to full feature phase')

    def nop_ping(self):
        itt = self.itt = self.itt + 1
        pdu = badpdu_bhs(F_IMMEDIATE | OP_NOP_OUT, 0x80, 0, 0, b'\0' * 8, itt,
                         0xffffffff, self.cmdsn, self.expstatsn)
        self.send(pdu)
        while True:
            bhs, _ = self.recv_pdu()
            if bhs[0] & 0x3f == OP_NOP_IN and struct.unpack('>I', bhs[16:20])[0] == itt:
                return


def badpdu_outcome(conn, timeout):
    """Waits for the target's reaction: 'reject:<reason>', 'login:<status>',
    'scsi:<status>', 'drop' or 'timeout'. NOP-Ins and async messages are
    skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 'timeout'
        conn.sock.settimeout(left)
        try:
            bhs, _ = conn.recv_pdu()
        except BadpduClosed:
            return 'drop'
        except socket.timeout:
            return 'timeout'
        except OSError:
            return 'drop'
        op = bhs[0] & 0x3f
        if op == OP_REJECT:
            return 'reject:0x%02x' % bhs[2]
        if op == OP_LOGIN_RSP:
            return 'login:0x%02x%02x' % (bhs[36], bhs[37])
        if op == OP_SCSI_RSP or (op == OP_DATA_IN and bhs[1] & 0x01):
            return 'scsi:0x%02x' % bhs[3]


def badpdu_lun(lun):
    """SAM-5 single-level LUN, peripheral/flat addressing."""
    if lun < 256:
        return bytes([0, lun]) + b'\0' * 6
    return bytes([0x40 | (lun >> 8), lun & 0xff]) + b'\0' * 6


def badpdu_scsi_cmd(conn, cdb, flags, edtl, dsl, ahs=b'', data=b''):
    itt = conn.itt = conn.itt + 1
    pdu = badpdu_bhs(OP_SCSI_CMD, flags, len(ahs) // 4, dsl, conn.lun, itt,
                     edtl, conn.cmdsn, conn.expstatsn, cdb)
    conn.cmdsn += 1
    return pdu + ahs + data


class BadpduRunner:
    def __init__(self, args):
        self.a = args
        self.failed = 0

    def connect(self):
        return BadpduConn(self.a.host, self.a.port, self.a.timeout)

    def session(self):
        c = self.connect()
        c.login(self.a.initiator, self.a.target)
        c.lun = badpdu_lun(self.a.lun)
        return c

    def alive(self):
        """A fresh session logs in and answers a NOP-Out ping."""
        try:
            c = self.session()
            c.nop_ping()
            c.close()
            return None
        except Exception as e:  # noqa: BLE001 -- any failure is the answer
            return '%s: %s' % (type(e).__name__, e)

    def case(self, name, fn, accept):
        """fn(conn or None) -> outcome string; accept: outcome prefixes."""
        t0 = time.monotonic()
        try:
            outcome = fn()
        except Exception as e:  # noqa: BLE001
            outcome = 'error %s: %s' % (type(e).__name__, e)
        dt = time.monotonic() - t0
        ok = any(outcome == a or outcome.startswith(a + ':') for a in accept)
        ok = ok and not outcome.startswith('error')
        dead = self.alive()
        if ok and dead is None:
            print('PASS badpdu.%s (%s in %.1fs)' % (name, outcome, dt))
        elif not ok:
            self.failed += 1
            print('FAIL badpdu.%s: target answered %s (wanted %s)%s' %
                  (name, outcome, ' or '.join(accept),
                   '' if dead is None else '; then no new session: ' + dead))
        else:
            self.failed += 1
            print('FAIL badpdu.%s: %s, but then no new session: %s' %
                  (name, outcome, dead))
        sys.stdout.flush()

    # --- the cases -------------------------------------------------------

    def in_session(self, build):
        def fn():
            c = self.session()
            try:
                c.send(build(c))
                return badpdu_outcome(c, self.a.timeout)
            finally:
                c.close()
        return fn

    def run(self):
        dead = self.alive()
        if dead:
            print('FAIL badpdu.login: a normal login failed: %s' % dead)
            return 1

        print('PASS badpdu.login')
        # Control: the same PDU builder makes a good READ(10) the target
        # answers with GOOD, so the failures below are about the damage only.
        # (A first command may meet a unit attention: one retry.)
        def good_read():
            cdb = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])
            c = self.session()
            try:
                for _ in range(2):
                    c.send(badpdu_scsi_cmd(c, cdb, 0x80 | 0x40 | 1, 512, 0))
                    out = badpdu_outcome(c, self.a.timeout)
                    if out != 'scsi:0x02':
                        break
                return out
            finally:
                c.close()
        self.case('control_good_read10', good_read, ['scsi:0x00'])
        # Opcode 0x0f is not an initiator opcode (RFC 7143 11.2.1.2).
        self.case('unknown_opcode', self.in_session(lambda c: badpdu_bhs(
            0x0f, 0x80, 0, 0, b'\0' * 8, 0x777, 0, c.cmdsn, c.expstatsn)),
            ['reject', 'drop'])

        # TotalAHSLength 2 words holding an Extended-CDB AHS whose own
        # AHSLength claims 1020 bytes: the two lengths contradict.
        def bad_ahs(c):
            ahs = struct.pack('>HBB', 1020, 0x01, 0) + b'\0' * 4
            cdb = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])  # READ(10), 1 block
            return badpdu_scsi_cmd(c, cdb, 0x80 | 0x40 | 1, 512, 0, ahs)
        # CHECK CONDITION is accepted as well: the target kept the PDU
        # boundaries (it consumed exactly TotalAHSLength) and refused the
        # command; GOOD would mean the damage went unnoticed.
        self.case('bad_total_ahs_length', self.in_session(bad_ahs),
                  ['reject', 'drop', 'scsi:0x02'])

        # DataSegmentLength 16 MiB - 1, far above any MaxRecvDataSegmentLength
        # the target may declare; only 64 KiB of it is ever sent, so a target
        # that believes the length hangs here.
        def huge_dsl(c):
            cdb = bytes([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0])  # WRITE(10), 1 block
            return badpdu_scsi_cmd(c, cdb, 0x80 | 0x20 | 1, 512, 0xffffff,
                                   data=b'\xa5' * 65536)
        self.case('huge_data_segment_length', self.in_session(huge_dsl),
                  ['reject', 'drop'])

        # A Data-Out for a transfer the target never asked for.
        def dataout_ttt(c):
            return badpdu_bhs(OP_DATA_OUT, 0x80, 0, 512, b'\0' * 8, 0x4242,
                              0x7eadbeef, 0, c.expstatsn,
                              struct.pack('>III', 0, 0, 0)) + b'\x5a' * 512
        self.case('dataout_unknown_ttt', self.in_session(dataout_ttt),
                  ['reject', 'drop'])

        # Login whose text is not key=value pairs at all.
        def login_garbage():
            c = self.connect()
            try:
                data = b'\xff\xfe\x01garbage\0=novalue\0InitiatorName\0' + \
                    b'K' * 300 + b'\0\x80\x81'
                c.send(c.login_pdu(0, 1, True, data))
                return badpdu_outcome(c, self.a.timeout)
            finally:
                c.close()
        self.case('login_garbage_text', login_garbage, ['login', 'drop'])

        # Login request whose DataSegmentLength is 16 MiB - 1.
        def login_huge():
            c = self.connect()
            try:
                hdr = badpdu_bhs(F_IMMEDIATE | OP_LOGIN_REQ, 0x81, 0, 0xffffff,
                                 ISID + b'\0\0', 1, 0, 1, 0)
                c.send(hdr + b'InitiatorName=' + b'x' * 8192)
                return badpdu_outcome(c, self.a.timeout)
            finally:
                c.close()
        self.case('login_huge_data_segment', login_huge, ['login', 'drop'])

        # A SCSI command on a connection that never logged in.
        def cmd_before_login():
            c = self.connect()
            try:
                cdb = bytes([0x00] * 6)  # TEST UNIT READY
                c.send(badpdu_scsi_cmd(c, cdb, 0x80 | 1, 0, 0))
                return badpdu_outcome(c, self.a.timeout)
            finally:
                c.close()
        self.case('command_before_login', cmd_before_login,
                  ['login', 'reject', 'drop'])

        # Half a header, then the initiator goes away.
        def truncated():
            c = self.connect()
            c.send(c.login_pdu(0, 1, True, b'')[:20])
            c.close()
            return 'drop'
        self.case('truncated_header_close', truncated, ['drop'])

        # Half a header inside a session, then close.
        def truncated_ffp():
            c = self.session()
            c.send(badpdu_bhs(F_IMMEDIATE | OP_NOP_OUT, 0x80, 0, 0, b'\0' * 8,
                              9, 0xffffffff, c.cmdsn, c.expstatsn)[:30])
            c.close()
            return 'drop'
        self.case('truncated_header_in_session', truncated_ffp, ['drop'])
        return 1 if self.failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=3260)
    p.add_argument('--target', required=True)
    p.add_argument('--initiator', default='iqn.2026-11.org.ctgt:badpdu')
    p.add_argument('--lun', type=int, default=0,
                   help='a LUN that can be read (default 0)')
    p.add_argument('--timeout', type=float, default=5.0)
    return BadpduRunner(p.parse_args()).run()


if __name__ == '__main__':
    sys.exit(main())
