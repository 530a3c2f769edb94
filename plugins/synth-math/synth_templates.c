/* synth-math: the story templates. Each one draws its own shape (how many
 * items, relations, extras), builds the expression DAG bottom-up in story
 * order (so the default path reads like the question), writes the question
 * sentences, and gives up unless the shape has exactly the requested number
 * of steps. The wording is deliberately small and regular: a tiny model has
 * to learn it from about a thousand examples. */
#include <stdio.h>
#include <string.h>

#include "synth_internal.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct noun { const char *one, *many; } noun;

static void shuffle_ints(synth_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)synth_range(r, 0, i);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Picks n distinct indices below m into out. */
static void pick_distinct(synth_rng *r, int m, int n, int *out)
{
    int all[16];
    for (int i = 0; i < m; i++)
        all[i] = i;
    shuffle_ints(r, all, m);
    memcpy(out, all, (size_t)n * sizeof *out);
}

/* ---- shop: "Ann buys 3 pens for $4 each. ... How many dollars does Ann
 * spend?" optionally paying with a bill and asking for the change. ---- */
static const noun goods[] = {
    {"pen", "pens"}, {"book", "books"}, {"cap", "caps"},   {"ball", "balls"},
    {"kite", "kites"}, {"cup", "cups"}, {"hat", "hats"},   {"doll", "dolls"},
};

static bool t_shop(synth_build *b, int steps)
{
    synth_rng *r = &b->rng;
    int nm = (int)synth_range(r, 0, 3), ns = (int)synth_range(r, 0, 2);
    int change = (int)synth_range(r, 0, 1), k = nm + ns;
    if (k == 0 || (k == 1 && nm == 0) || nm + (k - 1) + change != steps)
        return false;
    const char *who = b->hero = synth_name(b);
    int order[5], gi[5];
    for (int i = 0; i < k; i++)
        order[i] = i;
    shuffle_ints(r, order, k); /* which items come as "3 pens" and which as "a kite" */
    pick_distinct(r, COUNT(goods), k, gi);
    int terms[5];
    for (int i = 0; i < k; i++) {
        const noun *g = &goods[gi[i]];
        if (order[i] < nm) {
            int64_t q = synth_range(r, 2, 9), pr = synth_range(r, 2, 15);
            synth_fact(b, "%s buys %lld %s for $%lld each.", who, (long long)q, g->many,
                       (long long)pr);
            char done[112];
            synth_label(done, sizeof done, "The %s cost @ dollars.", g->many);
            int u = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, u, synth_leaf(b, q), false);
            synth_kid(b, u, synth_leaf(b, pr), false);
            terms[i] = u;
        } else {
            int64_t pr = synth_range(r, 3, 25);
            synth_fact(b, "%s buys a %s for $%lld.", who, g->one, (long long)pr);
            terms[i] = synth_leaf(b, pr);
        }
    }
    int cost = terms[0];
    if (k > 1) {
        char done[112];
        synth_label(done, sizeof done, "%s spends @ dollars.", who);
        cost = synth_node_new(b, SYNTH_SUM, done, "That is @ dollars.");
        for (int i = 0; i < k; i++)
            synth_kid(b, cost, terms[i], false);
    }
    if (!change) {
        b->p->root = cost;
        synth_ask(b, "How many dollars does %s spend?", who);
        return true;
    }
    int64_t spent = synth_eval(b, cost);
    static const int bills[] = {10, 20, 50, 100, 200, 500};
    int64_t bill = -1;
    for (int i = 0; i < COUNT(bills) && bill < 0; i++)
        if (bills[i] > spent)
            bill = bills[i];
    if (spent < 0 || bill < 0)
        return false;
    synth_fact(b, "%s pays with a $%lld bill.", who, (long long)bill);
    char done[112];
    synth_label(done, sizeof done, "%s gets @ dollars in change.", who);
    int root = synth_node_new(b, SYNTH_SUM, done, "That is @ dollars.");
    synth_kid(b, root, synth_leaf(b, bill), false);
    synth_kid(b, root, cost, true);
    b->p->root = root;
    synth_ask(b, "How many dollars of change does %s get?", who);
    return true;
}

/* ---- relations: "Tom has 12 shells. Ann has 5 more shells than Tom. Ben
 * has twice as many shells as Ann. How many shells do they have in
 * total?" People nobody asks about stay in as distractors. ---- */
static const char *const collectibles[] = {"shells", "marbles", "stickers", "stamps", "cards",
                                           "beads"};

static bool t_relations(synth_build *b, int steps)
{
    (void)steps; /* the shape is too varied to predict: the caller counts */
    synth_rng *r = &b->rng;
    const char *item = collectibles[synth_range(r, 0, COUNT(collectibles) - 1)];
    int k = (int)synth_range(r, 2, 4);
    const char *who[4];
    int node[4];
    for (int j = 0; j < k; j++)
        who[j] = synth_name(b);
    int64_t v0 = synth_range(r, 5, 30);
    synth_fact(b, "%s has %lld %s.", who[0], (long long)v0, item);
    node[0] = synth_leaf(b, v0);
    for (int j = 1; j < k; j++) {
        int base = (int)synth_range(r, 0, j - 1);
        int64_t bv = synth_eval(b, node[base]);
        char done[112];
        synth_label(done, sizeof done, "%s has @ %s.", who[j], item);
        int rel = -1;
        for (int tries = 0; tries < 16 && rel < 0; tries++) {
            int c = (int)synth_range(r, 0, 5); /* "more" and "twice" are the common ones */
            if (c == 0 || c == 5)
                rel = 0;
            else if (c == 1 && bv > 4)
                rel = 1;
            else if (c == 2 && bv * 2 <= 200)
                rel = 2;
            else if (c == 3 && bv * 3 <= 200)
                rel = 3;
            else if (c == 4 && bv % 2 == 0 && bv >= 4)
                rel = 4;
        }
        if (rel < 0)
            rel = 0;
        int u;
        if (rel == 0 || rel == 1) {
            int64_t n = synth_range(r, 2, rel == 0 ? 15 : (bv - 1 < 15 ? bv - 1 : 15));
            synth_fact(b, "%s has %lld %s %s than %s.", who[j], (long long)n,
                       rel == 0 ? "more" : "fewer", item, who[base]);
            u = synth_node_new(b, SYNTH_SUM, done, NULL);
            synth_kid(b, u, node[base], false);
            synth_kid(b, u, synth_leaf(b, n), rel == 1);
        } else if (rel == 2) {
            synth_fact(b, "%s has twice as many %s as %s.", who[j], item, who[base]);
            u = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, u, synth_leaf(b, 2), false);
            synth_kid(b, u, node[base], false);
        } else if (rel == 3) {
            synth_fact(b, "%s has 3 times as many %s as %s.", who[j], item, who[base]);
            u = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, u, synth_leaf(b, 3), false);
            synth_kid(b, u, node[base], false);
        } else {
            synth_fact(b, "%s has half as many %s as %s.", who[j], item, who[base]);
            u = synth_node_new(b, SYNTH_DIV, done, NULL);
            synth_kid(b, u, node[base], false);
            synth_kid(b, u, synth_leaf(b, 2), false);
        }
        node[j] = u;
        if (synth_eval(b, u) < 0)
            return false;
    }
    int ask = (int)synth_range(r, 0, 3);
    char done[112];
    if (ask == 0) {
        synth_label(done, sizeof done, "They have @ %s in total.", item);
        int root = synth_node_new(b, SYNTH_SUM, done, NULL);
        synth_label(b->p->nodes[root].part, sizeof b->p->nodes[root].part, "That is @ %s.", item);
        for (int j = 0; j < k; j++)
            synth_kid(b, root, node[j], false);
        b->p->root = root;
        synth_ask(b, "How many %s do they have in total?", item);
    } else if (ask == 1) {
        /* Two of them, or three of four. */
        int m = k == 4 && synth_range(r, 0, 1) ? 3 : 2, sel[3];
        pick_distinct(r, k, m, sel);
        for (int i = 1; i < m; i++) /* story order */
            for (int j = i; j > 0 && sel[j - 1] > sel[j]; j--) {
                int t = sel[j];
                sel[j] = sel[j - 1];
                sel[j - 1] = t;
            }
        char names_txt[64];
        if (m == 2)
            snprintf(names_txt, sizeof names_txt, "%s and %s", who[sel[0]], who[sel[1]]);
        else
            snprintf(names_txt, sizeof names_txt, "%s, %s and %s", who[sel[0]], who[sel[1]],
                     who[sel[2]]);
        synth_label(done, sizeof done, "%s have @ %s together.", names_txt, item);
        int root = synth_node_new(b, SYNTH_SUM, done, NULL);
        synth_label(b->p->nodes[root].part, sizeof b->p->nodes[root].part, "That is @ %s.", item);
        for (int i = 0; i < m; i++)
            synth_kid(b, root, node[sel[i]], false);
        b->p->root = root;
        synth_ask(b, "How many %s do %s have together?", item, names_txt);
    } else if (ask == 2) {
        int j = (int)synth_range(r, 1, k - 1);
        b->p->root = node[j];
        synth_ask(b, "How many %s does %s have?", item, who[j]);
    } else {
        int pair[2];
        pick_distinct(r, k, 2, pair);
        int64_t a = synth_eval(b, node[pair[0]]), c = synth_eval(b, node[pair[1]]);
        if (a == c)
            return false;
        int hi = a > c ? pair[0] : pair[1], lo = pair[0] ^ pair[1] ^ hi;
        synth_label(done, sizeof done, "%s has @ more %s than %s.", who[hi], item, who[lo]);
        int root = synth_node_new(b, SYNTH_SUM, done, NULL);
        synth_kid(b, root, node[hi], false);
        synth_kid(b, root, node[lo], true);
        b->p->root = root;
        synth_ask(b, "How many more %s does %s have than %s?", item, who[hi], who[lo]);
    }
    b->hero = who[0];
    return true;
}

/* ---- share: "Mia bakes 4 trays of 12 cookies. Mia eats 3 cookies. Mia
 * puts the rest into bags of 5. How many bags does Mia fill?" ---- */
typedef struct share_theme {
    const char *verb, *groups, *thing, *use;
} share_theme;
static const share_theme share_themes[] = {
    {"bakes", "trays", "cookies", "eats"},
    {"picks", "baskets", "apples", "eats"},
    {"buys", "packs", "cards", "loses"},
};

static bool t_share(synth_build *b, int steps)
{
    synth_rng *r = &b->rng;
    const share_theme *th = &share_themes[synth_range(r, 0, COUNT(share_themes) - 1)];
    int npos = (int)synth_range(r, 1, 2), nneg = (int)synth_range(r, 1, 3);
    int mul[2] = {(int)synth_range(r, 0, 1), (int)synth_range(r, 0, 1)};
    int nmul = mul[0] + (npos > 1 ? mul[1] : 0);
    if (nmul + (npos - 1) + nneg + 1 != steps)
        return false;
    const char *who = b->hero = synth_name(b);
    int pos[2];
    for (int i = 0; i < npos; i++) {
        if (mul[i]) {
            int64_t g = synth_range(r, 2, 6), per = synth_range(r, 4, 12);
            synth_fact(b, "%s %s %lld %s of %lld %s.", who, th->verb, (long long)g, th->groups,
                       (long long)per, th->thing);
            char done[112];
            synth_label(done, sizeof done, "%s %s @ %s.", who, th->verb, th->thing);
            pos[i] = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, pos[i], synth_leaf(b, g), false);
            synth_kid(b, pos[i], synth_leaf(b, per), false);
        } else {
            int64_t v = synth_range(r, 10, 40);
            if (i == 0)
                synth_fact(b, "%s %s %lld %s.", who, th->verb, (long long)v, th->thing);
            else
                synth_fact(b, "%s gets %lld more %s from %s.", who, (long long)v, th->thing,
                           synth_name(b));
            pos[i] = synth_leaf(b, v);
        }
    }
    int have = pos[0];
    if (npos > 1) {
        char done[112], part[64];
        synth_label(done, sizeof done, "%s has @ %s.", who, th->thing);
        synth_label(part, sizeof part, "That is @ %s.", th->thing);
        have = synth_node_new(b, SYNTH_SUM, done, part);
        synth_kid(b, have, pos[0], false);
        synth_kid(b, have, pos[1], false);
    }
    int64_t total = synth_eval(b, have);
    int64_t d = synth_range(r, 2, 8);
    /* Take away N with N = total (mod d), so the rest divides evenly; the
     * rest is at least 2*d and every part taken at least 2, so no sentence
     * says "1 cookies". */
    int64_t n0 = total % d, room = total - 2 * d, least = 2 * nneg;
    if (total < 0 || room < least)
        return false;
    int64_t options = 0;
    for (int64_t n = n0; n <= room && n <= 30; n += d)
        options += n >= least;
    if (options == 0)
        return false;
    int64_t pick = synth_range(r, 1, options), n = n0;
    for (;; n += d)
        if (n >= least && --pick == 0)
            break;
    /* Split n into nneg parts of 2 or more. */
    int64_t part_v[3], left = n;
    for (int i = 0; i < nneg; i++) {
        int64_t rest_min = 2 * (nneg - 1 - i);
        part_v[i] = i == nneg - 1 ? left : synth_range(r, 2, left - rest_min);
        left -= part_v[i];
    }
    char done[112], partl[64];
    synth_label(done, sizeof done, "%s has @ %s left.", who, th->thing);
    synth_label(partl, sizeof partl, "That is @ %s.", th->thing);
    int rest = synth_node_new(b, SYNTH_SUM, done, partl);
    synth_kid(b, rest, have, false);
    int li[3];
    pick_distinct(r, 3, nneg, li);
    for (int i = 0; i < nneg; i++) {
        long long v = (long long)part_v[i];
        if (li[i] == 0)
            synth_fact(b, "%s %s %lld %s.", who, th->use, v, th->thing);
        else if (li[i] == 1)
            synth_fact(b, "%s gives %lld %s to %s.", who, v, th->thing, synth_name(b));
        else
            synth_fact(b, "%s drops %lld %s.", who, v, th->thing);
        synth_kid(b, rest, synth_leaf(b, part_v[i]), true);
    }
    int root;
    if (synth_range(r, 0, 1)) {
        synth_fact(b, "%s puts the rest into bags of %lld.", who, (long long)d);
        synth_label(done, sizeof done, "%s fills @ bags.", who);
        synth_ask(b, "How many bags does %s fill?", who);
    } else {
        synth_fact(b, "%s shares the rest equally among %lld friends.", who, (long long)d);
        synth_label(done, sizeof done, "Each friend gets @ %s.", th->thing);
        synth_ask(b, "How many %s does each friend get?", th->thing);
    }
    root = synth_node_new(b, SYNTH_DIV, done, NULL);
    synth_kid(b, root, rest, false);
    synth_kid(b, root, synth_leaf(b, d), false);
    b->p->root = root;
    return true;
}

/* ---- groups: "A shop has 3 shelves. Each shelf has 5 boxes. Each box has
 * 6 toys. How many toys are in the shop?" plus toys added or taken. ---- */
typedef struct chain {
    const char *place;
    noun level[4];
} chain;
static const chain chains[] = {
    {"school", {{"class", "classes"}, {"table", "tables"}, {"kid", "kids"}, {"pencil", "pencils"}}},
    {"shop", {{"shelf", "shelves"}, {"box", "boxes"}, {"bag", "bags"}, {"toy", "toys"}}},
    {"farm", {{"barn", "barns"}, {"pen", "pens"}, {"hen", "hens"}, {"egg", "eggs"}}},
    {"hotel", {{"floor", "floors"}, {"room", "rooms"}, {"bed", "beds"}, {"pillow", "pillows"}}},
};

static bool t_groups(synth_build *b, int steps)
{
    synth_rng *r = &b->rng;
    const chain *c = &chains[synth_range(r, 0, COUNT(chains) - 1)];
    int nf = (int)synth_range(r, 2, 4), ne = (int)synth_range(r, 0, 3);
    if ((nf - 1) + ne != steps)
        return false;
    int first = 4 - nf; /* the last level is always the thing counted */
    int64_t hi = nf == 2 ? 12 : nf == 3 ? 8 : 5;
    const noun *top = &c->level[first];
    const noun *last = &c->level[3];
    int64_t f = synth_range(r, 2, hi);
    synth_fact(b, "A %s has %lld %s.", c->place, (long long)f, top->many);
    int acc = synth_leaf(b, f);
    for (int lv = first + 1; lv < 4; lv++) {
        int64_t g = synth_range(r, 2, hi);
        synth_fact(b, "Each %s has %lld %s.", c->level[lv - 1].one, (long long)g,
                   c->level[lv].many);
        char done[112];
        synth_label(done, sizeof done, "There are @ %s.", c->level[lv].many);
        int u = synth_node_new(b, SYNTH_MUL, done, NULL);
        synth_kid(b, u, acc, false);
        synth_kid(b, u, synth_leaf(b, g), false);
        acc = u;
    }
    const char *where = c->place;
    if (ne == 0) {
        b->p->root = acc;
        synth_ask(b, "How many %s are in the %s?", last->many, where);
        return true;
    }
    int64_t have = synth_eval(b, acc);
    char done[112], part[64];
    synth_label(done, sizeof done, "There are @ %s now.", last->many);
    synth_label(part, sizeof part, "That is @ %s.", last->many);
    int root = synth_node_new(b, SYNTH_SUM, done, part);
    synth_kid(b, root, acc, false);
    for (int e = 0; e < ne; e++) {
        bool take = synth_range(r, 0, 1) && have > 12;
        int64_t v = take ? synth_range(r, 2, have / 3 < 20 ? have / 3 : 20) : synth_range(r, 2, 20);
        if (take)
            synth_fact(b, "Then %lld %s are taken away.", (long long)v, last->many);
        else
            synth_fact(b, "Then %lld more %s are added.", (long long)v, last->many);
        have += take ? -v : v;
        synth_kid(b, root, synth_leaf(b, v), take);
    }
    b->p->root = root;
    synth_ask(b, "How many %s are in the %s now?", last->many, where);
    return true;
}

/* ---- savings: "Leo saves $6 each week for 5 weeks. Leo buys a game for
 * $18. How many dollars does Leo have left?" ---- */
static bool t_savings(synth_build *b, int steps)
{
    synth_rng *r = &b->rng;
    int npos = (int)synth_range(r, 1, 2), nneg = (int)synth_range(r, 1, 2);
    int pmul[2] = {1, (int)synth_range(r, 0, 1)};
    int nmul[2] = {(int)synth_range(r, 0, 1), (int)synth_range(r, 0, 1)};
    int muls = pmul[0] + (npos > 1 ? pmul[1] : 0) + nmul[0] + (nneg > 1 ? nmul[1] : 0);
    if (muls + (npos - 1) + (nneg - 1) + 1 != steps)
        return false;
    const char *who = b->hero = synth_name(b);
    int pos[2], neg[2];
    static const char *const units[] = {"week", "day"};
    static const char *const earn[] = {"saves", "earns"};
    int unit0 = (int)synth_range(r, 0, 1);
    for (int i = 0; i < npos; i++) {
        char done[112];
        if (pmul[i]) {
            int which = i == 0 ? unit0 : !unit0;
            int64_t per = synth_range(r, 2, 15), n = synth_range(r, 2, 9);
            synth_fact(b, "%s %s $%lld each %s for %lld %ss.", who, earn[which], (long long)per,
                       units[which], (long long)n, units[which]);
            synth_label(done, sizeof done, "%s %s @ dollars.", who, earn[which]);
            pos[i] = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, pos[i], synth_leaf(b, per), false);
            synth_kid(b, pos[i], synth_leaf(b, n), false);
        } else {
            int64_t v = synth_range(r, 5, 40);
            synth_fact(b, "%s also gets $%lld as a gift.", who, (long long)v);
            pos[i] = synth_leaf(b, v);
        }
    }
    int gi[2];
    pick_distinct(r, COUNT(goods), 2, gi);
    for (int i = 0; i < nneg; i++) {
        const noun *g = &goods[gi[i]];
        if (nmul[i]) {
            int64_t q = synth_range(r, 2, 5), pr = synth_range(r, 2, 12);
            synth_fact(b, "%s buys %lld %s for $%lld each.", who, (long long)q, g->many,
                       (long long)pr);
            char done[112];
            synth_label(done, sizeof done, "The %s cost @ dollars.", g->many);
            neg[i] = synth_node_new(b, SYNTH_MUL, done, NULL);
            synth_kid(b, neg[i], synth_leaf(b, q), false);
            synth_kid(b, neg[i], synth_leaf(b, pr), false);
        } else {
            int64_t pr = synth_range(r, 3, 25);
            synth_fact(b, "%s buys a %s for $%lld.", who, g->one, (long long)pr);
            neg[i] = synth_leaf(b, pr);
        }
    }
    int got = pos[0], spent = neg[0];
    char done[112];
    if (npos > 1) {
        synth_label(done, sizeof done, "%s gets @ dollars in all.", who);
        got = synth_node_new(b, SYNTH_SUM, done, "That is @ dollars.");
        synth_kid(b, got, pos[0], false);
        synth_kid(b, got, pos[1], false);
    }
    if (nneg > 1) {
        synth_label(done, sizeof done, "%s spends @ dollars.", who);
        spent = synth_node_new(b, SYNTH_SUM, done, "That is @ dollars.");
        synth_kid(b, spent, neg[0], false);
        synth_kid(b, spent, neg[1], false);
    }
    synth_label(done, sizeof done, "%s has @ dollars left.", who);
    int root = synth_node_new(b, SYNTH_SUM, done, "That is @ dollars.");
    synth_kid(b, root, got, false);
    synth_kid(b, root, spent, true);
    b->p->root = root;
    synth_ask(b, "How many dollars does %s have left?", who);
    return synth_eval(b, root) >= 0;
}

const synth_template synth_templates[] = {
    {"shop", t_shop},       {"relations", t_relations}, {"share", t_share},
    {"groups", t_groups},   {"savings", t_savings},
};
const int synth_n_templates = COUNT(synth_templates);
