#!/usr/bin/env python3
"""Prints a recording's markers as JSON [[frame, label], ...], read independently of CaptureDeck:
WAV/RF64 from the `cue ` chunk and the LIST/adtl `labl` chunks, AIFF from the MARK chunk,
other types (and with --sidecar) from the `FILE.markers` sidecar. Exit 1 with a message on
stderr when the file holds none of those."""
import json, struct, sys

def riff(data):
    big = data[:4] == b'RF64'
    pos, ds64_data, cues, labels = 12, None, None, {}
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
        if cid == b'ds64':
            ds64_data = struct.unpack('<Q', data[pos + 16:pos + 24])[0]
        if cid == b'data' and big and size == 0xFFFFFFFF:
            size = ds64_data
        body = data[pos + 8:pos + 8 + size]
        if cid == b'cue ':
            n = struct.unpack('<I', body[:4])[0]
            cues = []
            for i in range(n):
                ident, position, chunk, cstart, bstart, offset = struct.unpack('<II4sIII', body[4 + 24 * i:28 + 24 * i])
                cues.append((ident, offset))
        if cid == b'LIST' and body[:4] == b'adtl':
            p = 4
            while p + 8 <= len(body):
                sid, ssize = body[p:p + 4], struct.unpack('<I', body[p + 4:p + 8])[0]
                if sid == b'labl':
                    ident = struct.unpack('<I', body[p + 8:p + 12])[0]
                    labels[ident] = body[p + 12:p + 8 + ssize].split(b'\0')[0].decode('utf-8')
                p += 8 + ssize + (ssize & 1)
        pos += 8 + size + (size & 1)
    if cues is None:
        return None
    return [[offset, labels.get(ident, '')] for ident, offset in cues]

def aiff(data):
    pos, marks = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack('>I', data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b'MARK':
            n, p, marks = struct.unpack('>H', body[:2])[0], 2, []
            for _ in range(n):
                ident, position, length = struct.unpack('>HIB', body[p:p + 7])
                marks.append([position, body[p + 7:p + 7 + length].decode('utf-8')])
                p += 7 + length + ((1 + length) & 1 == 1)  # pstring padded to an even size
        pos += 8 + size + (size & 1)
    return marks

def sidecar(path):
    try:
        text = open(path + '.markers', 'rb').read().decode('utf-8')
    except FileNotFoundError:
        return None
    lines = text.split('\n')
    if lines[0] != 'capdeck-markers 1':
        return None
    out = []
    for line in lines[1:-1]:  # the last: a torn line or the '' after the final newline
        frame, label = line.split('\t', 1)
        unescaped, i = '', 0
        while i < len(label):
            if label[i] == '\\' and i + 1 < len(label):
                unescaped += {'\\': '\\', 't': '\t', 'n': '\n', 'r': '\r'}[label[i + 1]]
                i += 2
            else:
                unescaped += label[i]
                i += 1
        out.append([int(frame), unescaped])
    return out

path = sys.argv[-1]
data = open(path, 'rb').read()
if '--sidecar' in sys.argv:
    found = sidecar(path)
elif data[:4] in (b'RIFF', b'RF64') and data[8:12] == b'WAVE':
    found = riff(data)
elif data[:4] == b'FORM':
    found = aiff(data)
else:
    found = sidecar(path)
if found is None:
    sys.exit(f'{path}: no markers (no cue chunk, MARK chunk or sidecar)')
print(json.dumps(found))
