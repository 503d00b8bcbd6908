// Many files dropped on (or picked in) a file uploader at once are packed into one .zip here, in
// the browser, and handed to the uploader as that one file. Streamlit's uploader sends a request
// per file and redraws every file's chip at each one's progress: for 300 reports that kept the
// browser busy for seconds before the page could read anything. The app reads a .zip's every
// member, so nothing is lost but the chips. A folder, or more than the upload limit, goes as it came.

const DROPZONE = '[data-testid="stFileUploaderDropzone"]';
const INPUT = '[data-testid="stFileUploaderDropzoneInput"]';
const MOST_ZIP_ENTRIES = 65535; // without zip64's extensions

const CRC_TABLE = Array.from({length: 256}, (_, byte) => {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    return crc >>> 0;
});

function crc32(bytes) {
    let crc = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
}

// A deflate stream costs about a millisecond to set up, more than a small file saves on the wire;
// gzip and zip are compressed already.
const DEFLATE_FROM = 4096;
const worthDeflating = bytes =>
    bytes.length >= DEFLATE_FROM && !(bytes[0] === 0x1f && bytes[1] === 0x8b) && !(bytes[0] === 0x50 && bytes[1] === 0x4b);

async function deflated(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
}

function dosTime(date) {
    const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
    const day = (Math.max(date.getFullYear() - 1980, 0) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
    return [time, day];
}

// A header of little-endian fields: [value, width in bytes] pairs, then a name's (or comment's) bytes.
function header(fields, name) {
    const size = fields.reduce((sum, [, width]) => sum + width, 0);
    const bytes = new Uint8Array(size + name.length);
    const view = new DataView(bytes.buffer);
    let at = 0;
    for (const [value, width] of fields) {
        if (width === 4) view.setUint32(at, value, true);
        else view.setUint16(at, value, true);
        at += width;
    }
    bytes.set(name, at);
    return bytes;
}

// A .zip of the files, the bigger ones deflated, names in UTF-8 (general purpose flag bit 11), with the comment.
async function packed(files, comment) {
    const parts = [], directory = [];
    let offset = 0;
    // All files read (and deflated) at once: one after the other, the waits between them added up.
    const contents = await Promise.all(files.map(async file => {
        const raw = new Uint8Array(await file.arrayBuffer());
        const data = worthDeflating(raw) ? await deflated(raw) : raw;
        return data.length < raw.length ? [raw, data, 8] : [raw, raw, 0]; // deflated, or stored
    }));
    for (const [index, file] of files.entries()) {
        const name = new TextEncoder().encode(file.name);
        const [raw, data, method] = contents[index];
        const [time, day] = dosTime(new Date(file.lastModified || Date.now()));
        const shared = [[20, 2], [0x0800, 2], [method, 2], [time, 2], [day, 2], [crc32(raw), 4], [data.length, 4], [raw.length, 4], [name.length, 2]];
        const local = header([[0x04034b50, 4], ...shared, [0, 2]], name);
        directory.push(header([[0x02014b50, 4], [20, 2], ...shared, [0, 2], [0, 2], [0, 2], [0, 2], [0, 4], [offset, 4]], name));
        parts.push(local, data);
        offset += local.length + data.length;
    }
    const directorySize = directory.reduce((sum, entry) => sum + entry.length, 0);
    const end = header([[0x06054b50, 4], [0, 2], [0, 2], [files.length, 2], [files.length, 2], [directorySize, 4], [offset, 4], [comment.length, 2]], comment);
    return new File([...parts, ...directory, end], `${files.length} files.zip`, {type: 'application/zip'});
}

export default function ({data}) {
    const {many, limit} = data;
    const comment = new TextEncoder().encode(data.comment); // by which the server knows the archive is ours
    let handingOver = false; // our own events pass through

    // The packed archive, or the files as they came if one could not be read (removed meanwhile):
    // then the uploader says what it says of them, and nothing dropped is silently lost.
    // The pointer says the page is busy meanwhile: tens of MB take a few seconds to pack.
    const sent = files => {
        const root = document.documentElement;
        root.style.cursor = 'progress';
        return packed(files, comment)
            .then(bundle => [bundle], () => files)
            .finally(() => root.style.removeProperty('cursor'));
    };
    const transferOf = files => {
        const transfer = new DataTransfer();
        for (const file of files) transfer.items.add(file);
        return transfer;
    };

    // The archive at its largest: every file stored, with its two headers (30 and 46 bytes and the
    // name twice), and the end record. Beyond the limit the uploader would refuse it whole.
    const packedSize = files =>
        files.reduce((sum, file) => sum + file.size + 76 + 2 * new TextEncoder().encode(file.name).length, 22 + comment.length);
    const packable = files => files.length > many && files.length <= MOST_ZIP_ENTRIES && packedSize(files) <= limit;

    // Dispatched synchronously, so the flag covers exactly the uploader's handling of this event.
    const handOver = (target, event) => {
        handingOver = true;
        try {
            target.dispatchEvent(event);
        } finally {
            handingOver = false;
        }
    };

    const onChange = event => {
        const input = event.target;
        if (handingOver || !(input instanceof HTMLInputElement) || !input.matches(INPUT) || !input.multiple) return;
        const files = [...input.files];
        if (!packable(files)) return;
        event.stopImmediatePropagation();
        sent(files).then(sending => {
            input.files = transferOf(sending).files;
            handOver(input, new Event('change', {bubbles: true}));
        });
    };

    const onDrop = event => {
        const zone = event.target instanceof Element && event.target.closest(DROPZONE);
        const input = zone && zone.querySelector(INPUT);
        if (handingOver || !input || !input.multiple || !event.dataTransfer) return;
        const items = [...event.dataTransfer.items];
        // A folder's entry must be walked, which the uploader does itself.
        if (!items.every(item => item.kind === 'file' && item.webkitGetAsEntry?.()?.isFile !== false)) return;
        const files = [...event.dataTransfer.files];
        if (!packable(files)) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        const target = event.target;
        sent(files).then(sending =>
            handOver(target, new DragEvent('drop', {bubbles: true, cancelable: true, composed: true, dataTransfer: transferOf(sending)})),
        );
    };

    window.addEventListener('change', onChange, true);
    window.addEventListener('drop', onDrop, true);
    return () => {
        window.removeEventListener('change', onChange, true);
        window.removeEventListener('drop', onDrop, true);
    };
}
