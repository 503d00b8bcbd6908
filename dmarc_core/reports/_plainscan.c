/* Plain records read in C: the same language and the same values as plain.py's regular
 * expression path (`read_plain_expression`), which stays the reference the tests compare this
 * with on every input they make. Where anything differs from the plain grammar, `scan` returns
 * None and the caller leaves the piece to lxml, as the expression path would.
 *
 * The grammar (plain.py's _RECORD): whole <record> elements of RFC 7489 Appendix C in the usual
 * order, without prefixes, attributes, comments, CDATA or references; text without '<', '&', C0
 * controls but tab and LF, CR, U+FFFE and U+FFFF; the piece valid UTF-8 and without "]]>". */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The order of the lists `scan` returns: records.py's _PENDING, which Columns.extend takes. */
enum {
    SOURCE_IP, COUNT, DISPOSITION, REPORTED_DKIM, REPORTED_SPF, REASON, REASON_COMMENT, HEADER_FROM,
    ENVELOPE_FROM, ENVELOPE_TO, DKIM_DOMAIN, DKIM_SELECTOR, DKIM_RESULT, DKIM_COUNT, SPF_DOMAIN,
    SPF_SCOPE, SPF_RESULT, SPF_COUNT, COLUMNS
};

typedef struct {
    const unsigned char *at, *end;
    Py_ssize_t continuations; /* UTF-8 continuation bytes passed: characters = bytes - these */
} Cursor;

/* A value: where its text starts and how long it is; absent (or written <name/>) when start is NULL. */
typedef struct {
    const unsigned char *start;
    Py_ssize_t length;
} Value;

static void skip_space(Cursor *c) {
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\r' || *c->at == '\n'))
        c->at++;
}

static int literal(Cursor *c, const char *text, Py_ssize_t length) {
    if (c->end - c->at >= length && memcmp(c->at, text, length) == 0) {
        c->at += length;
        return 1;
    }
    return 0;
}
#define LITERAL(c, text) literal((c), (text), (Py_ssize_t)(sizeof(text) - 1))

static int continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

/* An element's text up to the next '<'; 0 where it holds a character the grammar refuses (then
 * no end tag can follow it, and the record is not plain) or bytes that are no UTF-8. */
static int text(Cursor *c, Value *value) {
    const unsigned char *at = c->at, *end = c->end;
    value->start = at;
    while (at < end) {
        unsigned char byte = *at;
        if (byte < 0x80) {
            if (byte == '<')
                break;
            if (byte == '&' || (byte < 0x20 && byte != '\t' && byte != '\n'))
                return 0;
            /* "]]>" is forbidden in text (libxml2 reports it); only text can hold it in a plain piece */
            if (byte == '>' && at - value->start >= 2 && at[-1] == ']' && at[-2] == ']')
                return 0;
            at++;
            continue;
        }
        /* Python's strict UTF-8: no overlong form, no surrogate, nothing past U+10FFFF. */
        Py_ssize_t left = end - at;
        if (byte >= 0xC2 && byte <= 0xDF) {
            if (left < 2 || !continuation(at[1]))
                return 0;
            at += 2;
            c->continuations += 1;
        } else if (byte >= 0xE0 && byte <= 0xEF) {
            if (left < 3 || !continuation(at[1]) || !continuation(at[2]))
                return 0;
            if ((byte == 0xE0 && at[1] < 0xA0) || (byte == 0xED && at[1] > 0x9F))
                return 0;
            if (byte == 0xEF && at[1] == 0xBF && (at[2] == 0xBE || at[2] == 0xBF))
                return 0; /* U+FFFE and U+FFFF */
            at += 3;
            c->continuations += 2;
        } else if (byte >= 0xF0 && byte <= 0xF4) {
            if (left < 4 || !continuation(at[1]) || !continuation(at[2]) || !continuation(at[3]))
                return 0;
            if ((byte == 0xF0 && at[1] < 0x90) || (byte == 0xF4 && at[1] > 0x8F))
                return 0;
            at += 4;
            c->continuations += 3;
        } else {
            return 0;
        }
    }
    value->length = at - value->start;
    c->at = at;
    return 1;
}

/* The names of elements of text, each as "<name>", "</name>" and "<name/>". */
typedef struct {
    const char *open, *close, *empty;
    Py_ssize_t open_length, close_length, empty_length;
} Name;
#define NAME(name) {"<" name ">", "</" name ">", "<" name "/>", sizeof(name) + 1, sizeof(name) + 2, sizeof(name) + 2}

enum { N_SOURCE_IP, N_COUNT, N_DISPOSITION, N_DKIM, N_SPF, N_TYPE, N_COMMENT, N_HEADER_FROM, N_ENVELOPE_FROM,
       N_ENVELOPE_TO, N_DOMAIN, N_SELECTOR, N_RESULT, N_SCOPE, N_HUMAN_RESULT, NAMES };
static const Name names[NAMES] = {
    NAME("source_ip"), NAME("count"), NAME("disposition"), NAME("dkim"), NAME("spf"), NAME("type"),
    NAME("comment"), NAME("header_from"), NAME("envelope_from"), NAME("envelope_to"), NAME("domain"),
    NAME("selector"), NAME("result"), NAME("scope"), NAME("human_result"),
};

/* One element of text named `name` at the cursor: 1 read (value absent for <name/>), 0 where none
 * starts here, -1 where one starts but is not plain. */
static int element(Cursor *c, int name, Value *value) {
    const Name *n = &names[name];
    value->start = NULL;
    value->length = 0;
    if (literal(c, n->open, n->open_length)) {
        if (!text(c, value) || !literal(c, n->close, n->close_length))
            return -1;
        return 1;
    }
    return literal(c, n->empty, n->empty_length) ? 1 : 0;
}

/* An optional element of text, then white space: 0 where it starts but is not plain. */
static int leaf(Cursor *c, int name, Value *value) {
    if (element(c, name, value) < 0)
        return 0;
    skip_space(c);
    return 1;
}

/* Reasons (types, comments) and entries (<dkim>, <spf>) a record may hold here: past twice
 * max_results, one kind has more than max_results, and the record is left to the reader anyway. */
#define MAX_FIELDS 256
#define MAX_ENTRIES 256

/* Elements of text among `allowed` in any order and number, each followed by white space: their
 * names and values, at most MAX_FIELDS of them kept (`*count` counts them all); 0 where one is not plain. */
static int elements(Cursor *c, const int *allowed, int allowed_count, int *found_names, Value *found, int *count) {
    *count = 0;
    for (;;) {
        int hit = 0;
        for (int i = 0; i < allowed_count && !hit; i++) {
            Value value;
            int read = element(c, allowed[i], &value);
            if (read < 0)
                return 0;
            if (read) {
                hit = 1;
                if (*count < MAX_FIELDS) {
                    found_names[*count] = allowed[i];
                    found[*count] = value;
                }
                (*count)++;
            }
        }
        if (!hit)
            return 1;
        skip_space(c);
    }
}

typedef struct {
    int dkim; /* 1 for <dkim>, 0 for <spf> */
    Value domain, selector, scope, result;
    int usual;      /* fields in the order domain, selector, scope, result, then human_result */
    int duplicated; /* a field twice */
} Entry;

typedef struct {
    Value source_ip, count, disposition, dkim, spf;
    Value types[MAX_FIELDS], comments[MAX_FIELDS];
    int type_count, comment_count;
    Value header_from, envelope_from, envelope_to;
    Entry entries[MAX_ENTRIES];
    int entry_count;
} Record;

static const int reason_names[] = {N_TYPE, N_COMMENT};
static const int identifier_names[] = {N_HEADER_FROM, N_ENVELOPE_FROM, N_ENVELOPE_TO};
static const int entry_names[] = {N_DOMAIN, N_SELECTOR, N_RESULT, N_SCOPE, N_HUMAN_RESULT};

/* Rank of an entry field in the usual order; human_result may repeat. */
static int usual_rank(int name) {
    switch (name) {
    case N_DOMAIN: return 0;
    case N_SELECTOR: return 1;
    case N_SCOPE: return 2;
    case N_RESULT: return 3;
    default: return 4;
    }
}

/* The fields of a <dkim> or <spf>, each followed by white space; 0 where one is not plain. */
static int read_entry(Cursor *c, Entry *entry) {
    static const Value absent = {NULL, 0};
    entry->domain = entry->selector = entry->scope = entry->result = absent;
    entry->usual = 1;
    entry->duplicated = 0;
    int seen = 0, last_rank = -1;
    skip_space(c);
    for (;;) {
        int name = -1, read = 0;
        Value value;
        for (int i = 0; i < 5 && !read; i++) {
            read = element(c, entry_names[i], &value);
            if (read < 0)
                return 0;
            name = entry_names[i];
        }
        if (!read)
            return 1;
        skip_space(c);
        int rank = usual_rank(name), bit = 1 << rank;
        if (seen & bit)
            entry->duplicated = 1;
        seen |= bit;
        if (rank < last_rank || (rank == last_rank && rank < 4))
            entry->usual = 0;
        last_rank = rank;
        /* A record is kept only where no entry holds one of these twice (see read_record): the only one
         * is the value. */
        if (name == N_DOMAIN)
            entry->domain = value;
        else if (name == N_SELECTOR)
            entry->selector = value;
        else if (name == N_SCOPE)
            entry->scope = value;
        else if (name == N_RESULT)
            entry->result = value;
    }
}

/* A tag at the cursor, then white space: 0 where it is not there. */
static int tag(Cursor *c, const char *text, Py_ssize_t length) {
    if (!literal(c, text, length))
        return 0;
    skip_space(c);
    return 1;
}
#define TAG(c, text) tag((c), (text), (Py_ssize_t)(sizeof(text) - 1))

/* One record at the cursor, white space after it included; 0 where it is not plain. */
static int read_record(Cursor *c, Record *r) {
    int count;
    int found_names[MAX_FIELDS];
    Value found[MAX_FIELDS];
    if (!TAG(c, "<record>") || !TAG(c, "<row>") || !leaf(c, N_SOURCE_IP, &r->source_ip) || !leaf(c, N_COUNT, &r->count) ||
        !TAG(c, "<policy_evaluated>") || !leaf(c, N_DISPOSITION, &r->disposition) || !leaf(c, N_DKIM, &r->dkim) ||
        !leaf(c, N_SPF, &r->spf))
        return 0;
    r->type_count = r->comment_count = 0;
    while (TAG(c, "<reason>")) {
        if (!elements(c, reason_names, 2, found_names, found, &count) || count > MAX_FIELDS)
            return 0;
        for (int i = 0; i < count; i++) {
            int type = found_names[i] == N_TYPE;
            if ((type ? r->type_count : r->comment_count) == MAX_FIELDS)
                return 0;
            if (type)
                r->types[r->type_count++] = found[i];
            else
                r->comments[r->comment_count++] = found[i];
        }
        if (!TAG(c, "</reason>"))
            return 0;
    }
    if (!TAG(c, "</policy_evaluated>") || !TAG(c, "</row>") || !TAG(c, "<identifiers>"))
        return 0;
    if (!elements(c, identifier_names, 3, found_names, found, &count) || count > 3)
        return 0; /* more than three is a field twice: left to the reader, as the expression path does */
    static const Value absent = {NULL, 0};
    r->header_from = r->envelope_from = r->envelope_to = absent;
    int seen = 0;
    for (int i = 0; i < count; i++) {
        int bit = 1 << found_names[i];
        if (seen & bit)
            return 0;
        seen |= bit;
        Value *slot = found_names[i] == N_HEADER_FROM ? &r->header_from
                      : found_names[i] == N_ENVELOPE_FROM ? &r->envelope_from
                      : &r->envelope_to;
        *slot = found[i];
    }
    if (!TAG(c, "</identifiers>"))
        return 0;
    r->entry_count = 0;
    if (TAG(c, "<auth_results>")) {
        for (;;) {
            int dkim;
            if (LITERAL(c, "<dkim>"))
                dkim = 1;
            else if (LITERAL(c, "<spf>"))
                dkim = 0;
            else
                break;
            if (r->entry_count == MAX_ENTRIES)
                return 0;
            Entry *entry = &r->entries[r->entry_count++];
            entry->dkim = dkim;
            if (!read_entry(c, entry) || !(dkim ? TAG(c, "</dkim>") : TAG(c, "</spf>")))
                return 0;
        }
        if (!TAG(c, "</auth_results>"))
            return 0;
    } else if (!TAG(c, "<auth_results/>")) {
        return 0;
    }
    if (!TAG(c, "</record>"))
        return 0;
    /* A field twice in any entry is left to the reader where any entry is in another order (the
     * expression path then reads every entry field by field). */
    int unusual = 0, duplicated = 0;
    for (int i = 0; i < r->entry_count; i++) {
        unusual |= !r->entries[i].usual;
        duplicated |= r->entries[i].duplicated;
    }
    return !(unusual && duplicated);
}

/* Where building the values fails for memory alone. */
static PyObject *empty_string;

static int add(PyObject *list, PyObject *value) {
    if (!value)
        return 0;
    int failed = PyList_Append(list, value);
    Py_DECREF(value);
    return failed == 0;
}

/* Values repeat (results, dispositions, domains, addresses of one sender, within a report and
 * across a month of them): the string made last for each hash of a value's bytes is kept, so that
 * one string serves them all. The process keeps them (at most CACHED strings of at most
 * CACHED_LENGTH bytes); every use holds the GIL. */
#define CACHED 4096
#define CACHED_LENGTH 64
static PyObject *cached_strings[CACHED];

static PyObject *string(Value value) {
    if (!value.start || !value.length) {
        Py_INCREF(empty_string);
        return empty_string;
    }
    if (value.length > CACHED_LENGTH)
        return PyUnicode_DecodeUTF8((const char *)value.start, value.length, "strict");
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < value.length; i++)
        hash = (hash ^ value.start[i]) * 16777619u;
    PyObject **slot = &cached_strings[hash % CACHED];
    if (*slot && PyUnicode_IS_ASCII(*slot) && PyUnicode_GET_LENGTH(*slot) == value.length && memcmp(PyUnicode_DATA(*slot), value.start, value.length) == 0) {
        Py_INCREF(*slot);
        return *slot;
    }
    PyObject *made = PyUnicode_DecodeUTF8((const char *)value.start, value.length, "strict");
    if (made) {
        Py_XSETREF(*slot, made);
        Py_INCREF(made);
    }
    return made;
}

/* The non-empty values joined by `separator`, the separator inside one replaced by '?'. */
static PyObject *joined(const Value *values, int count, const char *separator) {
    Py_ssize_t separator_length = (Py_ssize_t)strlen(separator), total = 0;
    for (int i = 0; i < count; i++)
        total += values[i].length + separator_length;
    if (!total) {
        Py_INCREF(empty_string);
        return empty_string;
    }
    char *buffer = PyMem_Malloc(total);
    if (!buffer)
        return PyErr_NoMemory();
    Py_ssize_t at = 0;
    for (int i = 0; i < count; i++) {
        if (!values[i].length)
            continue;
        if (at) {
            memcpy(buffer + at, separator, separator_length);
            at += separator_length;
        }
        const char *text = (const char *)values[i].start;
        Py_ssize_t length = values[i].length;
        for (Py_ssize_t j = 0; j < length;) {
            if (length - j >= separator_length && memcmp(text + j, separator, separator_length) == 0) {
                buffer[at++] = '?';
                j += separator_length;
            } else {
                buffer[at++] = text[j++];
            }
        }
    }
    PyObject *result = PyUnicode_DecodeUTF8(buffer, at, "strict");
    PyMem_Free(buffer);
    return result;
}

static int append_record(PyObject **lists, const Record *r) {
    if (!add(lists[SOURCE_IP], string(r->source_ip)) || !add(lists[COUNT], string(r->count)) ||
        !add(lists[DISPOSITION], string(r->disposition)) || !add(lists[REPORTED_DKIM], string(r->dkim)) ||
        !add(lists[REPORTED_SPF], string(r->spf)) || !add(lists[REASON], joined(r->types, r->type_count, ",")) ||
        !add(lists[REASON_COMMENT], joined(r->comments, r->comment_count, "; ")) ||
        !add(lists[HEADER_FROM], string(r->header_from)) || !add(lists[ENVELOPE_FROM], string(r->envelope_from)) ||
        !add(lists[ENVELOPE_TO], string(r->envelope_to)))
        return 0;
    Py_ssize_t signatures = 0, checks = 0;
    for (int i = 0; i < r->entry_count; i++) {
        const Entry *e = &r->entries[i];
        if (e->dkim) {
            if (!add(lists[DKIM_DOMAIN], string(e->domain)) || !add(lists[DKIM_SELECTOR], string(e->selector)) ||
                !add(lists[DKIM_RESULT], string(e->result)))
                return 0;
            signatures++;
        } else {
            if (!add(lists[SPF_DOMAIN], string(e->domain)) || !add(lists[SPF_SCOPE], string(e->scope)) ||
                !add(lists[SPF_RESULT], string(e->result)))
                return 0;
            checks++;
        }
    }
    return add(lists[DKIM_COUNT], PyLong_FromSsize_t(signatures)) && add(lists[SPF_COUNT], PyLong_FromSsize_t(checks));
}

/* scan(piece, longest, max_results) -> list of COLUMNS lists, or None where the piece is not plain. */
static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer piece;
    Py_ssize_t longest, max_results;
    if (!PyArg_ParseTuple(args, "y*nn", &piece, &longest, &max_results))
        return NULL;
    if (max_results < 0 || 2 * max_results >= MAX_FIELDS || 2 * max_results >= MAX_ENTRIES) {
        PyBuffer_Release(&piece);
        PyErr_SetString(PyExc_ValueError, "max_results is beyond what the scanner keeps");
        return NULL;
    }
    PyObject *result = NULL, *lists[COLUMNS] = {NULL};
    Record *record = PyMem_Malloc(sizeof(Record));
    if (!record) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < COLUMNS; i++)
        if (!(lists[i] = PyList_New(0)))
            goto done;
    Cursor c = {(const unsigned char *)piece.buf, (const unsigned char *)piece.buf + piece.len, 0};
    int plain = 1;
    skip_space(&c);
    while (plain && c.at < c.end) {
        const unsigned char *start = c.at;
        Py_ssize_t continuations = c.continuations;
        if (!read_record(&c, record) || (c.at - start) - (c.continuations - continuations) > longest ||
            record->type_count > max_results || record->comment_count > max_results) {
            plain = 0;
            break;
        }
        int signatures = 0;
        for (int i = 0; i < record->entry_count; i++)
            signatures += record->entries[i].dkim;
        if (signatures > max_results || record->entry_count - signatures > max_results) {
            plain = 0;
            break;
        }
        if (!append_record(lists, record))
            goto done;
    }
    if (!plain) {
        Py_INCREF(Py_None);
        result = Py_None;
        goto done;
    }
    if (!(result = PyList_New(COLUMNS)))
        goto done;
    for (int i = 0; i < COLUMNS; i++) {
        PyList_SET_ITEM(result, i, lists[i]);
        lists[i] = NULL;
    }
done:
    for (int i = 0; i < COLUMNS; i++)
        Py_XDECREF(lists[i]);
    PyMem_Free(record);
    PyBuffer_Release(&piece);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(piece, longest, max_results) -> the plain records' values as lists, or None where the piece is not plain"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_plainscan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__plainscan(void) {
    empty_string = PyUnicode_New(0, 0);
    if (!empty_string)
        return NULL;
    return PyModule_Create(&module);
}
