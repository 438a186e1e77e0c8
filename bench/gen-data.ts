/**
 * Deterministic synthetic data set for the archive/restore benchmark: the volumes of a practice
 * server at a given total size (default 1000 MiB), in the proportions of the performance issue:
 *
 * - `elexisdb`  45.4 %  a MariaDB-like data directory: InnoDB-like 16 KiB pages of Elexis-like rows
 *                       (random hex ids, dates, lab values, consultation text), partly filled pages,
 *                       free pages, a redo log, compressed blobs; about 3.4x with gzip -6
 * - `pacsdata`  38.0 %  Orthanc-like DICOM files: a small tag header, then image data that does not
 *                       compress (stands for JPEG/JPEG2000 pixel data)
 * - `lucinda`   16.6 %  20,000 small text documents per 1000 MiB (letters, reports; ~8.5 KiB each)
 * - `webelexis`          a few configuration files (a few KiB, not scaled)
 *
 * Same size → byte-identical files (fixed seeds, fixed mtimes), so runs on different days and
 * machines compare. Generated once into `<root>/<size>mib/` and reused while its marker matches.
 */
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Bump when the generator changes: old data sets are regenerated. */
const GENERATOR_VERSION = 3;
const MiB = 1024 * 1024;
const MTIME = new Date('2026-03-02T03:15:00Z');

export interface VolumeInfo {
  name: string;
  dir: string;
  bytes: number;
  files: number;
}

export interface DataSet {
  dir: string;
  sizeMiB: number;
  volumes: VolumeInfo[];
}

/** Small fast deterministic PRNG (sfc32) for choices; bulk random bytes come from AES-CTR. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12) | 1;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  /** Log-normal-ish size around `median` (spread = sigma). */
  lognormal(median: number, sigma: number): number {
    const u = Math.max(1e-12, this.float());
    const v = this.float();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * z);
  }
}

/** Deterministic incompressible bytes (AES-128-CTR of zeros). */
class Noise {
  private readonly cipher;
  private readonly zeros = Buffer.alloc(1 * MiB);
  constructor(seed: string) {
    const h = createHash('sha256').update(`noise:${seed}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', h.subarray(0, 16), h.subarray(16, 32));
  }
  fill(buf: Buffer, off = 0, len = buf.length - off): void {
    for (let done = 0; done < len; ) {
      const n = Math.min(len - done, this.zeros.length);
      const out = this.cipher.update(this.zeros.subarray(0, n));
      out.copy(buf, off + done);
      done += n;
    }
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    this.fill(b);
    return b;
  }
}

/** Word pools: some real (German medical letter) words and many made-up ones, Zipf-distributed. */
const REAL_WORDS = (
  'der die das und in den von zu mit sich des auf für ist im dem nicht ein eine als auch es an er hat aus bei ' +
  'nach wird sind noch wie einer um über einen so zum war haben nur oder aber vor zur bis mehr durch man ' +
  'Patient Patientin Diagnose Befund Therapie Verlauf Untersuchung Anamnese Status Labor Blutdruck Puls ' +
  'Beschwerden Schmerzen seit Tagen Wochen Monaten beidseits links rechts unauffällig leicht deutlich ' +
  'erhöht erniedrigt normal Kontrolle Überweisung Zuweisung Abklärung Medikation Dosierung täglich morgens ' +
  'abends Tablette Tabletten Hausarzt Spital Notfall Konsultation Rezept Arbeitsunfähigkeit Zeugnis ' +
  'Röntgen Thorax Abdomen Sonographie EKG Sinusrhythmus Herzfrequenz Atemgeräusche Auskultation Palpation ' +
  'Druckdolenz Schwellung Rötung Fieber Husten Auswurf Dyspnoe Belastung Ruhe Nacht Schlaf Appetit ' +
  'Gewicht Grösse BMI Nikotin Alkohol Allergien keine bekannt Vorgeschichte Operation Hypertonie Diabetes ' +
  'mellitus Typ Hypercholesterinämie Vorhofflimmern Niereninsuffizienz Arthrose Gonarthrose Lumbago ' +
  'Depression Asthma COPD Infekt viral bakteriell Antibiotika Verordnung weiter wie bisher empfohlen ' +
  'wir bitten Sie freundlichen Grüssen Kollegin Kollege geehrte geehrter Sehr Frau Herr besten Dank ' +
  'Termin vereinbart Wiedervorstellung bei Bedarf Befunde beiliegend mmHg mg ml mmol/l kg cm'
).split(' ');

const SYLLABLES = 'ba be bi bo ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro sa se si so ta te ti to ver ung keit heit lich isch ter ent ge an ab zu dia tho rax gen stat nal tum ose itis ase'.split(' ');

class Vocabulary {
  readonly words: string[];
  private readonly cdf: Float64Array;
  constructor(rng: Rng, extra: number) {
    const made: string[] = [];
    const seen = new Set(REAL_WORDS);
    while (made.length < extra) {
      let w = '';
      const n = rng.range(2, 4);
      for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
      if (rng.chance(0.3)) w = w[0]!.toUpperCase() + w.slice(1);
      if (!seen.has(w)) {
        seen.add(w);
        made.push(w);
      }
    }
    // Real words first (most frequent), made-up ones in the long tail.
    this.words = [...REAL_WORDS, ...made];
    this.cdf = new Float64Array(this.words.length);
    let sum = 0;
    for (let i = 0; i < this.words.length; i++) {
      sum += 1 / Math.pow(i + 2, 1.05);
      this.cdf[i] = sum;
    }
    for (let i = 0; i < this.cdf.length; i++) this.cdf[i]! /= sum;
  }
  word(rng: Rng): string {
    const x = rng.float();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.words[lo]!;
  }
  sentence(rng: Rng, min = 5, max = 18): string {
    const n = rng.range(min, max);
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(this.word(rng));
    const s = w.join(' ');
    return `${s[0]!.toUpperCase()}${s.slice(1)}${rng.chance(0.1) ? '?' : '.'}`;
  }
}

const SURNAMES = 'Müller Meier Schmid Keller Weber Huber Schneider Meyer Steiner Fischer Gerber Brunner Baumann Frei Zimmermann Moser Graf Wyss Roth Suter Baumgartner Bachmann Studer Berger Kaufmann Hofmann Bühler Lehmann Marti Kälin Widmer Koch Bieri Egli Sutter Gasser Lüthi Arnold Zürcher Bosshard'.split(' ');
const FIRSTNAMES = 'Anna Maria Peter Hans Ursula Daniel Thomas Ruth Beat Martin Andrea Christian Monika Markus Barbara Urs Elisabeth Walter Verena Stefan Sandra Marco Nicole Lukas Laura Jonas Lea Noah Mia Luca'.split(' ');
const TOWNS = '8001 Zürich|3011 Bern|4051 Basel|6003 Luzern|9000 St. Gallen|8400 Winterthur|5000 Aarau|8200 Schaffhausen|7000 Chur|2502 Biel'.split('|');
const STREETS = 'Bahnhofstrasse Hauptstrasse Dorfstrasse Kirchweg Seestrasse Gartenstrasse Schulstrasse Industriestrasse Rosenweg Lindenstrasse'.split(' ');
const LAB_ITEMS = 'Hämoglobin|Leukozyten|Thrombozyten|CRP|Kreatinin|eGFR|Natrium|Kalium|Glukose|HbA1c|Cholesterin|LDL|HDL|Triglyceride|TSH|ALAT|ASAT|Gamma-GT|Ferritin|Vitamin D|PSA|INR|Harnsäure|Albumin'.split('|');
const DIAGNOSES = 'Arterielle Hypertonie|Diabetes mellitus Typ 2|Hypercholesterinämie|Vorhofflimmern|Chronische Niereninsuffizienz Stadium 3|Gonarthrose beidseits|Lumbovertebrales Syndrom|Depressive Episode|Asthma bronchiale|COPD GOLD 2|Akuter Infekt der oberen Atemwege|Harnwegsinfekt|Eisenmangelanämie|Hypothyreose|Adipositas|Vitamin-D-Mangel'.split('|');
const DRUGS = 'Amlodipin 5 mg|Metformin 1000 mg|Atorvastatin 20 mg|Pantoprazol 40 mg|Lisinopril 10 mg|Bisoprolol 2.5 mg|Rivaroxaban 20 mg|Levothyroxin 75 mcg|Ibuprofen 400 mg|Paracetamol 1 g|Sertralin 50 mg|Salbutamol Dosieraerosol|Torasemid 10 mg|Cholecalciferol 800 IE'.split('|');
const TARIFF = 'Konsultation, erste 5 Min. (Grundkonsultation)|+ Konsultation, jede weiteren 5 Min.|Konsultation, letzte 5 Min.|Telefonische Konsultation durch den Facharzt|Kleine Untersuchung durch den Facharzt|Elektrokardiogramm (EKG)|Blutentnahme, venös|Bericht an den zuweisenden Arzt|Präsenzlabor Hämatogramm|Sonographie Abdomen'.split('|');

/** Elexis-like 25-character ids: a letter and 24 random hex digits. */
function elexisId(rng: Rng): string {
  let s = 'abcdefghijklmnopqrstuvwxyz'[rng.int(26)]!;
  for (let i = 0; i < 3; i++) s += rng.u32().toString(16).padStart(8, '0');
  return s;
}

function ymd(rng: Rng): string {
  const y = rng.range(2011, 2026);
  const m = rng.range(1, 12);
  const d = rng.range(1, 28);
  return `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`;
}

type RowGen = (rng: Rng, st: TableState) => string;
interface TableState {
  patients: string[];
  cases: string[];
  mandators: string[];
  labItems: string[];
  vocab: Vocabulary;
  lastupdate: number;
}

function lastupdate(st: TableState, rng: Rng): string {
  st.lastupdate += rng.range(1, 90_000);
  return String(st.lastupdate);
}

/** Columns joined with the field separators a dump of the row would show; stands for the row body. */
const ROWS: Record<string, RowGen> = {
  KONTAKT: (rng, st) => {
    const town = rng.pick(TOWNS);
    return [elexisId(rng), lastupdate(st, rng), '0', rng.pick(SURNAMES), rng.pick(FIRSTNAMES), ymd(rng), rng.chance(0.5) ? 'w' : 'm',
      `${rng.pick(STREETS)} ${rng.range(1, 120)}`, town.slice(0, 4), town.slice(5), `0${rng.range(21, 79)} ${rng.range(100, 999)} ${rng.range(10, 99)} ${rng.range(10, 99)}`,
      rng.chance(0.3) ? st.vocab.sentence(rng, 3, 10) : '', '1', '0', '1'].join('\u0001');
  },
  BEHANDLUNGEN: (rng, st) => {
    const paras: string[] = [];
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) paras.push(`<paragraph>${st.vocab.sentence(rng, 4, 16)}</paragraph>`);
    return [elexisId(rng), lastupdate(st, rng), '0', rng.pick(st.cases), rng.pick(st.mandators), ymd(rng),
      `<?xml version="1.0" encoding="UTF-8"?><SAMDAS xmlns="http://www.elexis.ch/XSD"><text>${paras.join('')}</text></SAMDAS>`,
      '', rng.chance(0.9) ? '' : rng.pick(DIAGNOSES)].join('\u0001');
  },
  LABORWERTE: (rng, st) => {
    const item = rng.int(st.labItems.length);
    const flag = rng.chance(0.15) ? '1' : '0';
    return [elexisId(rng), lastupdate(st, rng), '0', rng.pick(st.patients), st.labItems[item]!, ymd(rng), `${rng.range(7, 18)}${rng.range(10, 59)}`,
      (rng.float() * 200).toFixed(rng.int(3)), flag, rng.chance(0.05) ? st.vocab.sentence(rng, 2, 6) : '', LAB_ITEMS[item % LAB_ITEMS.length]!].join('\u0001');
  },
  VERRECHNET: (rng, st) => {
    return [elexisId(rng), lastupdate(st, rng), '0', rng.pick(st.cases), 'ch.elexis.data.TarmedLeistung', `00.${String(rng.range(10, 99)).padStart(4, '0')}`,
      rng.pick(TARIFF), String(rng.range(1, 3)), String(rng.range(900, 2400)), '100', '0.89', '100', rng.pick(st.mandators)].join('\u0001');
  },
  PATIENT_ARTIKEL_JOINT: (rng, st) => {
    return [elexisId(rng), lastupdate(st, rng), '0', rng.pick(st.patients), elexisId(rng), rng.pick(DRUGS), `${rng.range(0, 2)}-0-${rng.range(0, 1)}-0`,
      ymd(rng), rng.chance(0.3) ? ymd(rng) : '', rng.chance(0.2) ? st.vocab.sentence(rng, 2, 8) : ''].join('\u0001');
  },
  TRACES: (rng, st) => {
    return [String(st.lastupdate), '192.168.1.' + rng.range(2, 60), 'elexis', `${rng.pick(['UPDATE', 'INSERT', 'SELECT'])} ${rng.pick(Object.keys(ROWS))} WHERE ID='${elexisId(rng)}'`].join('\u0001');
  },
};
const TABLE_WEIGHTS: [string, number][] = [
  ['KONTAKT', 6],
  ['BEHANDLUNGEN', 22],
  ['LABORWERTE', 26],
  ['VERRECHNET', 16],
  ['PATIENT_ARTIKEL_JOINT', 8],
  ['TRACES', 8],
];
/** Share of blob pages (compressed documents stored in the database): stays compressed in the archive. */
const BLOB_SHARE = 0.02;

const PAGE = 16 * 1024;

/** Writes InnoDB-like pages of rows into a file, `bytes` long (a multiple of the page size). */
function writeTablespace(file: string, bytes: number, rows: RowGen, rng: Rng, noise: Noise, st: TableState, spaceId: number): void {
  const pages = Math.max(4, Math.floor(bytes / PAGE));
  const freePages = Math.floor(pages * 0.08);
  const buf = Buffer.alloc(64 * PAGE);
  const fd = fs.openSync(file, 'w', 0o660);
  let lsn = 1_000_000 + rng.int(1e9);
  try {
    for (let p = 0; p < pages; p += 64) {
      buf.fill(0);
      const n = Math.min(64, pages - p);
      for (let i = 0; i < n; i++) {
        const no = p + i;
        const off = i * PAGE;
        if (no >= pages - freePages) continue; // preallocated, never used: zeros
        lsn += rng.range(100, 5000);
        // FIL header: checksum, page number, prev, next, LSN, type, flush LSN, space id.
        buf.writeUInt32BE(rng.u32(), off);
        buf.writeUInt32BE(no, off + 4);
        buf.writeUInt32BE(no > 0 ? no - 1 : 0xffffffff, off + 8);
        buf.writeUInt32BE(no + 1, off + 12);
        buf.writeUInt32BE(Math.floor(lsn / 4294967296), off + 16);
        buf.writeUInt32BE(lsn >>> 0, off + 20);
        const blob = rng.chance(BLOB_SHARE);
        buf.writeUInt16BE(blob ? 10 : 0x45bf, off + 24);
        buf.writeUInt32BE(spaceId, off + 34);
        if (blob) {
          // BLOB page: a zip-compressed document fragment (incompressible) up to a random length.
          const len = PAGE - 38 - 8 - rng.int(2000);
          buf.writeUInt32BE(len, off + 38);
          noise.fill(buf, off + 46, len - 8);
        } else {
          // Index page header, infimum/supremum, then rows until the fill factor is reached.
          buf.writeUInt16BE(rng.range(5, 60), off + 38);
          buf.writeUInt32BE(rng.u32(), off + 56);
          buf.write('infimum\0', off + 99, 'latin1');
          buf.write('supremum', off + 112, 'latin1');
          const limit = off + Math.floor(PAGE * (0.55 + rng.float() * 0.4));
          let pos = off + 120;
          let heap = 2;
          for (;;) {
            const row = rows(rng, st);
            const len = Buffer.byteLength(row, 'utf8');
            if (pos + 5 + 13 + len > limit) break;
            // Record header (heap number, next offset), trx id, roll pointer, then the columns.
            buf.writeUInt16BE((heap++ << 3) & 0xffff, pos);
            buf.writeUInt16BE((len + 18) & 0xffff, pos + 3);
            buf.writeUInt32BE(Math.floor(lsn / 97) >>> 0, pos + 5);
            buf.writeUInt32BE(rng.u32(), pos + 11);
            buf.write(row, pos + 18, 'utf8');
            pos += 18 + len;
          }
          // Page directory: one slot per few records, growing down from the trailer.
          for (let s = 0, at = off + PAGE - 10; s < heap / 6; s++, at -= 2) buf.writeUInt16BE(rng.range(120, PAGE - 200), at);
        }
        buf.writeUInt32BE(rng.u32(), off + PAGE - 8);
        buf.writeUInt32BE(lsn >>> 0, off + PAGE - 4);
      }
      fs.writeSync(fd, buf, 0, n * PAGE);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A redo log: 512-byte blocks of row images and binary page references. */
function writeRedoLog(file: string, bytes: number, rng: Rng, noise: Noise, st: TableState): void {
  const fd = fs.openSync(file, 'w', 0o660);
  const buf = Buffer.alloc(1 * MiB);
  const gens = Object.values(ROWS);
  let block = 0;
  try {
    for (let done = 0; done < bytes; done += buf.length) {
      buf.fill(0);
      const n = Math.min(buf.length, bytes - done);
      for (let off = 0; off + 512 <= n; off += 512) {
        buf.writeUInt32BE(block++, off);
        buf.writeUInt16BE(512, off + 4);
        let pos = off + 12;
        while (pos < off + 500) {
          if (rng.chance(0.15)) {
            noise.fill(buf, pos, Math.min(12, off + 500 - pos));
            pos += 12;
          } else {
            const row = rng.pick(gens)(rng, st);
            pos += buf.write(row, pos, Math.min(Buffer.byteLength(row), off + 508 - pos), 'utf8');
          }
        }
        buf.writeUInt32BE(rng.u32(), off + 508);
      }
      fs.writeSync(fd, buf, 0, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function pickWeighted(rng: Rng, weights: [string, number][]): string {
  const total = weights.reduce((a, [, w]) => a + w, 0);
  let x = rng.float() * total;
  for (const [k, w] of weights) {
    x -= w;
    if (x < 0) return k;
  }
  return weights[0]![0];
}

function writeSmall(file: string, data: string | Buffer, mode = 0o644): number {
  fs.writeFileSync(file, data, { mode });
  return Buffer.byteLength(data);
}

function genElexisDb(dir: string, bytes: number): VolumeInfo {
  const rng = new Rng('elexisdb');
  const noise = new Noise('elexisdb');
  const vocab = new Vocabulary(rng, 3000);
  const st: TableState = {
    patients: Array.from({ length: 3000 }, () => elexisId(rng)),
    cases: Array.from({ length: 6000 }, () => elexisId(rng)),
    mandators: Array.from({ length: 4 }, () => elexisId(rng)),
    labItems: Array.from({ length: 300 }, () => elexisId(rng)),
    vocab,
    lastupdate: 1_300_000_000_000,
  };
  let total = 0;
  let files = 0;
  const add = (n: number) => {
    total += n;
    files++;
  };
  fs.mkdirSync(dir, { recursive: true });
  for (const sub of ['mysql', 'performance_schema', 'elexis']) fs.mkdirSync(path.join(dir, sub));
  add(writeSmall(path.join(dir, 'aria_log_control'), noise.bytes(52), 0o660));
  add(writeSmall(path.join(dir, 'mysql_upgrade_info'), '10.11.6-MariaDB\n', 0o660));
  add(writeSmall(path.join(dir, 'multi-master.info'), '', 0o660));
  const bufferPool = Array.from({ length: 4000 }, () => `${rng.range(0, 300)},${rng.range(0, 20000)}`).join('\n');
  add(writeSmall(path.join(dir, 'ib_buffer_pool'), bufferPool, 0o660));
  // System schema: many small files (frm, MAI, MAD, small ibd).
  for (let i = 0; i < 40; i++) {
    const name = `sys_table_${i}`;
    add(writeSmall(path.join(dir, 'mysql', `${name}.frm`), Buffer.concat([Buffer.from(`\xfe\x01\x0a\x0c${name}`, 'latin1'), Buffer.alloc(rng.range(900, 3000))]), 0o660));
    add(writeSmall(path.join(dir, 'mysql', `${name}.MAI`), Buffer.concat([noise.bytes(200), Buffer.alloc(8192 - 200)]), 0o660));
    add(writeSmall(path.join(dir, 'mysql', `${name}.MAD`), vocab.sentence(rng, 20, 200), 0o660));
  }
  for (let i = 0; i < 80; i++) add(writeSmall(path.join(dir, 'performance_schema', `ps_${i}.frm`), Buffer.alloc(rng.range(500, 9000)), 0o660));
  add(writeSmall(path.join(dir, 'elexis', 'db.opt'), 'default-character-set=utf8mb4\ndefault-collation=utf8mb4_general_ci\n', 0o660));

  const smallTables = 30;
  const fixed = total + smallTables * (4 * PAGE + 2500);
  const budget = Math.max(0, bytes - fixed);
  // System tablespace, redo log, temp tablespace, then the tables by weight.
  const ibdata = Math.floor((budget * 0.06) / PAGE) * PAGE;
  const redo = Math.floor((budget * 0.1) / 512) * 512;
  const ibtmp = Math.floor((budget * 0.01) / PAGE) * PAGE;
  writeTablespace(path.join(dir, 'ibdata1'), ibdata, (r, s) => ROWS[pickWeighted(r, TABLE_WEIGHTS)]!(r, s), rng, noise, st, 0);
  add(ibdata);
  writeRedoLog(path.join(dir, 'ib_logfile0'), redo, rng, noise, st);
  add(redo);
  fs.writeFileSync(path.join(dir, 'ibtmp1'), Buffer.alloc(ibtmp), { mode: 0o660 });
  add(ibtmp);
  const tablesBudget = budget - ibdata - redo - ibtmp;
  const weightSum = TABLE_WEIGHTS.reduce((a, [, w]) => a + w, 0);
  let used = 0;
  TABLE_WEIGHTS.forEach(([table, w], idx) => {
    const frm = Buffer.concat([Buffer.from(`\xfe\x01\x0a\x0c${table}`, 'latin1'), Buffer.alloc(rng.range(2000, 12000))]);
    add(writeSmall(path.join(dir, 'elexis', `${table}.frm`), frm, 0o660));
    const share = idx === TABLE_WEIGHTS.length - 1 ? tablesBudget - used : Math.floor((tablesBudget * w) / weightSum / PAGE) * PAGE;
    used += share;
    writeTablespace(path.join(dir, 'elexis', `${table}.ibd`), share, ROWS[table]!, rng, noise, st, idx + 5);
    add(Math.max(4, Math.floor(share / PAGE)) * PAGE);
  });
  // Some small tables too.
  for (let i = 0; i < smallTables; i++) {
    add(writeSmall(path.join(dir, 'elexis', `SMALL_${i}.frm`), Buffer.alloc(rng.range(1000, 4000)), 0o660));
    writeTablespace(path.join(dir, 'elexis', `SMALL_${i}.ibd`), 4 * PAGE, ROWS.VERRECHNET!, rng, noise, st, 100 + i);
    add(4 * PAGE);
  }
  return { name: 'elexisdb', dir, bytes: total, files };
}

function dicomHeader(rng: Rng, patient: string, study: string, series: string, instance: number, pixelBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.alloc(128), Buffer.from('DICM', 'latin1')];
  const el = (group: number, element: number, vr: string, value: string) => {
    const v = value.length % 2 ? `${value} ` : value;
    const b = Buffer.alloc(8 + v.length);
    b.writeUInt16LE(group, 0);
    b.writeUInt16LE(element, 2);
    b.write(vr, 4, 'latin1');
    b.writeUInt16LE(v.length, 6);
    b.write(v, 8, 'latin1');
    parts.push(b);
  };
  el(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.4.70');
  el(0x0008, 0x0016, 'UI', '1.2.840.10008.5.1.4.1.1.1');
  el(0x0008, 0x0018, 'UI', `${series}.${instance}`);
  el(0x0008, 0x0020, 'DA', ymd(rng));
  el(0x0008, 0x0060, 'CS', rng.pick(['CR', 'DX', 'CT', 'US', 'MR']));
  el(0x0008, 0x0080, 'LO', 'Praxis Dr. med. Muster');
  el(0x0008, 0x1030, 'LO', rng.pick(['Thorax pa/lat', 'Knie rechts', 'Abdomen', 'LWS 2 Ebenen', 'Hand links']));
  el(0x0010, 0x0010, 'PN', patient);
  el(0x0010, 0x0020, 'LO', String(rng.range(1000, 99999)));
  el(0x0010, 0x0030, 'DA', ymd(rng));
  el(0x0020, 0x000d, 'UI', study);
  el(0x0020, 0x000e, 'UI', series);
  el(0x0020, 0x0013, 'IS', String(instance));
  el(0x0028, 0x0010, 'US', '  ');
  el(0x0028, 0x0011, 'US', '  ');
  const pix = Buffer.alloc(12);
  pix.writeUInt16LE(0x7fe0, 0);
  pix.writeUInt16LE(0x0010, 2);
  pix.write('OB', 4, 'latin1');
  pix.writeUInt32LE(pixelBytes, 8);
  parts.push(pix);
  return Buffer.concat(parts);
}

function genPacs(dir: string, bytes: number): VolumeInfo {
  const rng = new Rng('pacsdata');
  const noise = new Noise('pacsdata');
  fs.mkdirSync(dir, { recursive: true });
  let total = 0;
  let files = 0;
  let study = '';
  let series = '';
  let patient = '';
  let instance = 0;
  const buf = Buffer.allocUnsafe(1 * MiB);
  while (total < bytes) {
    if (files % 12 === 0) {
      patient = `${rng.pick(SURNAMES)}^${rng.pick(FIRSTNAMES)}`;
      study = `1.2.826.0.1.3680043.8.498.${rng.u32()}${rng.u32()}`;
    }
    if (files % 4 === 0) {
      series = `${study}.${rng.range(1, 9)}`;
      instance = 0;
    }
    // Mostly slice-sized images, some large radiographs; the last one fills up to the target.
    const want = rng.chance(0.8) ? rng.range(100, 600) * 1024 : rng.range(2, 16) * MiB;
    const header = dicomHeader(rng, patient, study, series, ++instance, want);
    const pixels = Math.max(0, Math.min(want, bytes - total - header.length));
    // Orthanc's layout: <2 hex>/<2 hex>/<uuid>.
    const uuid = createHash('sha1').update(`${files}`).digest('hex');
    const id = `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20, 32)}`;
    const sub = path.join(dir, id.slice(0, 2), id.slice(2, 4));
    fs.mkdirSync(sub, { recursive: true });
    const fd = fs.openSync(path.join(sub, id), 'w', 0o644);
    try {
      fs.writeSync(fd, header);
      for (let left = pixels; left > 0; left -= buf.length) {
        const n = Math.min(left, buf.length);
        noise.fill(buf, 0, n);
        fs.writeSync(fd, buf, 0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
    total += header.length + pixels;
    files++;
  }
  return { name: 'pacsdata', dir, bytes: total, files };
}

function letter(rng: Rng, vocab: Vocabulary, target: number): string {
  const patient = `${rng.pick(FIRSTNAMES)} ${rng.pick(SURNAMES)}`;
  const town = rng.pick(TOWNS);
  const d = ymd(rng);
  const date = `${d.slice(6)}.${d.slice(4, 6)}.${d.slice(0, 4)}`;
  const kind = rng.pick(['Bericht', 'Überweisung', 'Austrittsbericht', 'Arbeitsunfähigkeitszeugnis', 'Verlaufsbericht', 'Konsiliarbericht']);
  const lines = [
    'Praxis Dr. med. Muster',
    'Facharzt für Allgemeine Innere Medizin FMH',
    `${rng.pick(STREETS)} ${rng.range(1, 99)} · ${town} · Tel. 0${rng.range(21, 79)} ${rng.range(100, 999)} ${rng.range(10, 99)} ${rng.range(10, 99)}`,
    '',
    `${town.slice(5)}, ${date}`,
    '',
    `${kind}`,
    '',
    `Betrifft: ${patient}, geb. ${ymd(rng).replace(/^(\d{4})(\d\d)(\d\d)$/, '$3.$2.$1')}, ${rng.pick(STREETS)} ${rng.range(1, 120)}, ${rng.pick(TOWNS)}`,
    '',
    'Sehr geehrte Frau Kollegin, sehr geehrter Herr Kollege',
    '',
  ];
  let text = lines.join('\n');
  const tail: string[] = ['', 'Diagnosen:'];
  const nd = rng.range(1, 5);
  for (let i = 0; i < nd; i++) tail.push(`${i + 1}. ${rng.pick(DIAGNOSES)}`);
  tail.push('', 'Aktuelle Medikation:');
  const nm = rng.range(1, 6);
  for (let i = 0; i < nm; i++) tail.push(`- ${rng.pick(DRUGS)}  ${rng.range(0, 2)}-0-${rng.range(0, 1)}-0`);
  if (rng.chance(0.6)) {
    tail.push('', 'Labor vom ' + date + ':');
    const nl = rng.range(3, 12);
    for (let i = 0; i < nl; i++) tail.push(`  ${rng.pick(LAB_ITEMS).padEnd(14)} ${(rng.float() * 150).toFixed(1).padStart(7)}`);
  }
  tail.push('', 'Mit freundlichen Grüssen', '', 'Dr. med. A. Muster', '');
  const tailText = tail.join('\n');
  while (text.length + tailText.length < target) {
    const ns = rng.range(2, 7);
    const para: string[] = [];
    for (let i = 0; i < ns; i++) para.push(vocab.sentence(rng));
    text += `${para.join(' ')}\n\n`;
  }
  return text + tailText;
}

function genLucinda(dir: string, bytes: number): VolumeInfo {
  const rng = new Rng('lucinda');
  const vocab = new Vocabulary(rng, 6000);
  fs.mkdirSync(dir, { recursive: true });
  const count = Math.max(10, Math.round((20_000 * bytes) / (166 * MiB)));
  const mean = bytes / count;
  let total = 0;
  const madeDirs = new Set<string>();
  for (let i = 0; i < count; i++) {
    const left = bytes - total;
    const target = i === count - 1 ? Math.max(200, left) : Math.max(300, Math.min(left - (count - i - 1) * 300, Math.round(rng.lognormal(mean * 0.8, 0.65))));
    const year = 2012 + (i % 14);
    const sub = path.join(dir, 'docs', String(year), String(Math.floor(i / 50) % 400).padStart(3, '0'));
    if (!madeDirs.has(sub)) {
      fs.mkdirSync(sub, { recursive: true });
      madeDirs.add(sub);
    }
    const text = letter(rng, vocab, target);
    const data = Buffer.from(text, 'utf8');
    total += writeSmall(path.join(sub, `doc-${String(i).padStart(6, '0')}.${rng.chance(0.15) ? 'html' : 'txt'}`), data, 0o640);
  }
  return { name: 'lucinda', dir, bytes: total, files: count };
}

function genWebelexis(dir: string): VolumeInfo {
  const rng = new Rng('webelexis');
  fs.mkdirSync(path.join(dir, 'config'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'certs'));
  const files: [string, string, number][] = [
    ['config/settings.json', JSON.stringify({ sitename: 'Praxis Muster', elexis: { host: 'elexisdb', port: 3306, database: 'elexis' }, smtp: { host: 'mail.example.ch', port: 587 }, features: { agenda: true, documents: true } }, null, 2), 0o640],
    ['config/nginx.conf', 'server {\n  listen 443 ssl;\n  server_name praxis.example.ch;\n  ssl_certificate /certs/server.crt;\n  ssl_certificate_key /certs/server.key;\n  location / { proxy_pass http://webelexis:3030; }\n}\n', 0o644],
    ['config/.env', 'NODE_ENV=production\nPORT=3030\nSESSION_SECRET=' + rng.u32().toString(16) + rng.u32().toString(16) + '\n', 0o600],
    ['config/users.yaml', Array.from({ length: 12 }, (_, i) => `- id: user${i}\n  name: ${rng.pick(FIRSTNAMES)} ${rng.pick(SURNAMES)}\n  roles: [${rng.pick(['mpa', 'arzt', 'admin'])}]\n`).join(''), 0o640],
    ['certs/server.crt', '-----BEGIN CERTIFICATE-----\n' + new Noise('crt').bytes(900).toString('base64').replace(/(.{64})/g, '$1\n') + '\n-----END CERTIFICATE-----\n', 0o644],
    ['certs/server.key', '-----BEGIN PRIVATE KEY-----\n' + new Noise('key').bytes(1200).toString('base64').replace(/(.{64})/g, '$1\n') + '\n-----END PRIVATE KEY-----\n', 0o600],
  ];
  let total = 0;
  for (const [rel, data, mode] of files) total += writeSmall(path.join(dir, rel), data, mode);
  fs.symlinkSync('config/settings.json', path.join(dir, 'settings.json'));
  return { name: 'webelexis', dir, bytes: total, files: files.length };
}

function setMtimes(dir: string): void {
  // Children first, then the directory itself (creating entries bumps a directory's mtime).
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) setMtimes(p);
    else fs.lutimesSync(p, MTIME, MTIME);
  }
  fs.utimesSync(dir, MTIME, MTIME);
}

/** The data set of `sizeMiB` under `root`, generated unless a complete one is there already. */
export function ensureDataSet(root: string, sizeMiB: number, log: (msg: string) => void = () => undefined): DataSet {
  const dir = path.join(root, `${sizeMiB}mib`);
  const marker = path.join(dir, '.complete.json');
  try {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8')) as { version: number; volumes: VolumeInfo[] };
    if (m.version === GENERATOR_VERSION) return { dir, sizeMiB, volumes: m.volumes };
  } catch {
    // not there or stale: generate
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const bytes = sizeMiB * MiB;
  const started = Date.now();
  log(`generating ${sizeMiB} MiB data set in ${dir} ...`);
  const volumes = [
    genElexisDb(path.join(dir, 'elexisdb'), Math.round(bytes * 0.454)),
    genPacs(path.join(dir, 'pacsdata'), Math.round(bytes * 0.38)),
    genLucinda(path.join(dir, 'lucinda'), Math.round(bytes * 0.166)),
    genWebelexis(path.join(dir, 'webelexis')),
  ];
  for (const v of volumes) setMtimes(v.dir);
  fs.writeFileSync(marker, JSON.stringify({ version: GENERATOR_VERSION, sizeMiB, volumes }, null, 2));
  log(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { dir, sizeMiB, volumes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = Number(process.argv[2] ?? 1000);
  const root = process.argv[3] ?? path.join(path.dirname(new URL(import.meta.url).pathname), 'data');
  const ds = ensureDataSet(root, size, (m) => console.error(m));
  console.log(JSON.stringify(ds, null, 2));
}
