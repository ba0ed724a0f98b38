/* global document, location, fetch, WebSocket, URLSearchParams, console, setTimeout, clearTimeout */
// ticks demo: one Client per pane, each a user with its own token and WebSocket. Plain browser
// JavaScript, no build step. Message texts come from the demo-only upstream simulation
// (/demo/api/...); receipts go through the real query API, ticks arrive from the push gateway.
'use strict';

const RANK = { sent: 0, delivered: 1, read: 2 };
const POLL_MS = 700;

class Client {
  constructor(user, conversations, names) {
    this.user = user;
    this.names = names;
    this.convs = new Map(
      conversations.map((c) => [
        c.conversation_id,
        {
          ...c,
          messages: [],
          lastSeq: 0,
          unread: 0,
          readUpTo: 0,
          loaded: false,
          marked: false,
          muted: false,
        },
      ]),
    );
    this.openId = null;
    this.badge = 0;
    this.unreadTimer = null;
  }

  async api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${this.user.token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return json;
  }

  start(container) {
    this.el = document.createElement('section');
    this.el.className = 'pane';
    this.el.dataset.user = this.user.name.toLowerCase();
    this.el.innerHTML = `
      <div class="pane-head">
        <div><span class="name"></span><span class="status">offline</span></div>
        <span class="badge" title="people (or groups) with unread messages">0 unread senders</span>
      </div>
      <ul class="convs"></ul>
      <div class="messages"><p class="placeholder">Open a conversation</p></div>
      <form class="compose"><input name="text" placeholder="Message" autocomplete="off" disabled />
        <button type="submit" disabled>Send</button></form>`;
    this.el.querySelector('.name').textContent = this.user.name;
    this.list = this.el.querySelector('.messages');
    this.list.addEventListener('scroll', () => this.readIfAtEnd());
    this.el.querySelector('form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    container.appendChild(this.el);
    this.renderConversations();
    this.connect();
    this.poll();
    this.refreshUnread();
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/v1/updates?access_token=${encodeURIComponent(this.user.token)}`;
    const ws = new WebSocket(url);
    const status = this.el.querySelector('.status');
    ws.onmessage = (event) => this.onPush(JSON.parse(event.data));
    ws.onclose = () => {
      status.textContent = 'offline';
      status.classList.remove('online');
      setTimeout(() => this.connect(), 1500);
    };
    this.ws = ws;
  }

  onPush(m) {
    if (m.type === 'hello') {
      const status = this.el.querySelector('.status');
      status.textContent = 'online';
      status.classList.add('online');
      return;
    }
    if (m.type === 'offline_batch') {
      for (const u of m.updates) this.onPush(u);
      return;
    }
    const conv = this.convs.get(m.conversation_id);
    if (!conv) return;
    if (m.type === 'message_status')
      this.upgrade(conv, m.seq, m.status === 'READ' ? 'read' : 'delivered');
    if (m.type === 'group_sender_summary') for (const s of m.messages) this.summarise(conv, s);
    if (m.type === 'unread_sync') {
      conv.unread = m.unread_count;
      conv.readUpTo = Math.max(conv.readUpTo, m.read_up_to_seq);
      this.setBadge(m.badge_count);
      this.renderConversations();
    }
    if (conv.conversation_id === this.openId) this.renderMessages();
  }

  /** Direct chats: one update for the newest message it covers; earlier ones are covered too. */
  upgrade(conv, seq, status) {
    for (const msg of conv.messages)
      if (msg.sender_id === this.user.user_id && msg.seq <= seq && RANK[status] > RANK[msg.status])
        msg.status = status;
  }

  /**
   * Groups: one push per window lists my messages it changed; read_count readers of message seq
   * have read every earlier message too.
   */
  summarise(conv, s) {
    for (const msg of conv.messages) {
      if (msg.sender_id !== this.user.user_id || msg.seq > s.seq) continue;
      msg.readCount = Math.max(msg.readCount || 0, s.read_count);
      msg.deliveredCount = Math.max(msg.deliveredCount || 0, s.delivered_count);
      msg.total = s.total;
      const status =
        msg.readCount >= s.total ? 'read' : msg.deliveredCount > 0 ? 'delivered' : 'sent';
      if (RANK[status] > RANK[msg.status]) msg.status = status;
    }
  }

  async poll() {
    try {
      for (const conv of this.convs.values()) await this.fetchMessages(conv);
    } catch (err) {
      console.warn(err);
    }
    setTimeout(() => this.poll(), POLL_MS);
  }

  async fetchMessages(conv) {
    const path = `/demo/api/conversations/${encodeURIComponent(conv.conversation_id)}/messages?after=${conv.lastSeq}`;
    const { messages, deleted } = await this.api('GET', path);
    const firstLoad = !conv.loaded;
    conv.loaded = true;
    // Deleted upstream: gone from the list (ticks stops counting them as unread).
    const gone = new Set(deleted);
    const kept = conv.messages.filter((m) => !gone.has(m.message_id));
    if (kept.length !== conv.messages.length) {
      conv.messages = kept;
      this.scheduleUnreadRefresh();
      if (conv.conversation_id === this.openId) this.renderMessages();
    }
    if (messages.length === 0) return;
    const received = [];
    for (const m of messages) {
      if (m.seq <= conv.lastSeq) continue;
      const mine = m.sender_id === this.user.user_id;
      conv.messages.push({ ...m, status: 'sent' });
      conv.lastSeq = m.seq;
      if (!mine) received.push(m.message_id);
    }
    // This device received them: report delivered (the senders' ✓✓).
    if (received.length > 0)
      await this.api('POST', '/v1/receipts/delivered', {
        conversation_id: conv.conversation_id,
        message_ids: received,
      });
    if (firstLoad) await this.loadReceipts(conv);
    this.scheduleUnreadRefresh();
    if (conv.conversation_id === this.openId) {
      const atEnd = this.atEnd();
      this.renderMessages();
      if (atEnd) this.scrollToEnd();
      this.readIfAtEnd();
    }
  }

  /** After a reload, the ticks of my earlier messages come from GET receipts (the pull side). */
  async loadReceipts(conv) {
    const mine = conv.messages.filter((m) => m.sender_id === this.user.user_id).slice(-20);
    for (const msg of mine) {
      const r = await this.api(
        'GET',
        `/v1/messages/${encodeURIComponent(conv.conversation_id)}/${encodeURIComponent(msg.message_id)}/receipts`,
      ).catch(() => null);
      if (!r) continue;
      msg.readCount = r.read.length;
      msg.deliveredCount = r.delivered.length;
      msg.total = r.total;
      msg.status =
        r.total > 0 && r.read.length >= r.total
          ? 'read'
          : r.delivered.length > 0
            ? 'delivered'
            : 'sent';
    }
  }

  atEnd() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 8;
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Reading = the open conversation scrolled to its last message. */
  readIfAtEnd() {
    const conv = this.convs.get(this.openId);
    if (!conv || conv.messages.length === 0 || !this.atEnd()) return;
    const last = conv.messages[conv.messages.length - 1];
    // A conversation marked unread is read again when opened, even with nothing new.
    if (last.seq <= conv.readUpTo && !conv.marked) return;
    conv.readUpTo = Math.max(conv.readUpTo, last.seq);
    conv.unread = 0;
    conv.marked = false;
    this.renderConversations();
    this.api('POST', '/v1/receipts/read', { conversation_id: conv.conversation_id, seq: last.seq })
      .then(() => this.scheduleUnreadRefresh())
      .catch((err) => console.warn(err));
  }

  scheduleUnreadRefresh() {
    clearTimeout(this.unreadTimer);
    this.unreadTimer = setTimeout(() => this.refreshUnread(), 400);
  }

  async refreshUnread() {
    try {
      const me = await this.api('GET', '/v1/me/unread');
      for (const c of me.conversations) {
        const conv = this.convs.get(c.conversation_id);
        if (!conv) continue;
        // The pipeline may lag what this page already knows (a read it just made, a deletion
        // its poll saw, pushed already): never show more than is known unread.
        const lagging = c.read_up_to_seq < conv.readUpTo;
        conv.readUpTo = Math.max(conv.readUpTo, c.read_up_to_seq);
        conv.marked = c.marked_unread;
        const known = conv.loaded
          ? this.unreadKnown(conv)
          : lagging
            ? c.last_seq - conv.readUpTo
            : c.unread;
        conv.unread = Math.min(c.unread, known);
        conv.muted = c.muted;
      }
      // Each badge source is a conversation with something unread: no more than the page shows.
      const shown = [...this.convs.values()].filter((c) => c.unread > 0 && !c.muted).length;
      this.setBadge(Math.min(me.badge.count, shown));
      this.renderConversations();
    } catch (err) {
      console.warn(err);
    }
  }

  /** Others' messages after my watermark that this page holds (deleted ones are gone from it). */
  unreadKnown(conv) {
    const after = conv.messages.filter(
      (m) => m.sender_id !== this.user.user_id && m.seq > conv.readUpTo,
    ).length;
    return conv.marked ? Math.max(1, after) : after;
  }

  setBadge(count) {
    this.badge = count;
    const badge = this.el.querySelector('.badge');
    badge.textContent = `${count} unread sender${count === 1 ? '' : 's'}`;
    badge.classList.toggle('active', count > 0);
    badge.dataset.count = String(count);
  }

  open(conversationId) {
    this.openId = conversationId;
    this.el.querySelector('form.compose input').disabled = false;
    this.el.querySelector('form.compose button').disabled = false;
    this.renderConversations();
    this.renderMessages();
    this.scrollToEnd();
    this.readIfAtEnd();
  }

  async send() {
    const input = this.el.querySelector('form.compose input');
    const text = input.value.trim();
    if (!text || !this.openId) return;
    input.value = '';
    await this.api('POST', `/demo/api/conversations/${encodeURIComponent(this.openId)}/messages`, {
      text,
    });
    await this.fetchMessages(this.convs.get(this.openId));
    this.scrollToEnd();
  }

  /** Mark as unread: ticks shows it unread (and in the badge) until this user reads it again. */
  async markUnread(conv) {
    if (this.openId === conv.conversation_id) this.close();
    conv.marked = true;
    conv.unread = Math.max(conv.unread, 1);
    this.renderConversations();
    await this.api('POST', `/v1/conversations/${encodeURIComponent(conv.conversation_id)}/unread`);
    this.scheduleUnreadRefresh();
  }

  /** Mute: the count stays, the conversation leaves the badge (until unmuted). */
  async toggleMute(conv) {
    const muted = !conv.muted;
    await this.api('PUT', `/v1/conversations/${encodeURIComponent(conv.conversation_id)}/mute`, {
      muted,
    });
    conv.muted = muted;
    this.refreshUnread();
  }

  async deleteMessage(conv, msg) {
    await this.api(
      'DELETE',
      `/demo/api/conversations/${encodeURIComponent(conv.conversation_id)}/messages/${encodeURIComponent(msg.message_id)}`,
    );
    conv.messages = conv.messages.filter((m) => m.message_id !== msg.message_id);
    this.renderMessages();
  }

  close() {
    this.openId = null;
    this.el.querySelector('form.compose input').disabled = true;
    this.el.querySelector('form.compose button').disabled = true;
    this.list.innerHTML = '<p class="placeholder">Open a conversation</p>';
  }

  renderConversations() {
    const ul = this.el.querySelector('.convs');
    ul.innerHTML = '';
    for (const conv of this.convs.values()) {
      const li = document.createElement('li');
      li.className = `conv${conv.conversation_id === this.openId ? ' open' : ''}`;
      li.dataset.conversation = conv.conversation_id;
      li.dataset.kind = conv.kind.toLowerCase();
      const title = document.createElement('span');
      title.textContent = conv.title;
      const unread = document.createElement('span');
      unread.className = `unread${conv.unread > 0 ? '' : ' zero'}`;
      unread.textContent = String(conv.unread);
      unread.dataset.count = String(conv.unread);
      if (conv.muted) li.classList.add('muted');
      const action = (className, label, run) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = `conv-action ${className}`;
        button.textContent = label;
        button.addEventListener('click', (e) => {
          e.stopPropagation(); // not an open
          run().catch((err) => console.warn(err));
        });
        return button;
      };
      li.append(
        title,
        unread,
        action('mark-unread', 'mark unread', () => this.markUnread(conv)),
        action('mute', conv.muted ? 'unmute' : 'mute', () => this.toggleMute(conv)),
      );
      li.addEventListener('click', () => this.open(conv.conversation_id));
      ul.appendChild(li);
    }
  }

  renderMessages() {
    const conv = this.convs.get(this.openId);
    if (!conv) return;
    this.list.innerHTML = '';
    if (conv.messages.length === 0)
      this.list.innerHTML = '<p class="placeholder">No messages yet: say hello</p>';
    for (const msg of conv.messages) {
      const mine = msg.sender_id === this.user.user_id;
      const div = document.createElement('div');
      div.className = `msg${mine ? ' mine' : ''}`;
      div.dataset.messageId = msg.message_id;
      if (mine) div.dataset.status = msg.status;
      if (!mine) {
        const who = document.createElement('div');
        who.className = 'who';
        who.textContent = this.names.get(msg.sender_id) || msg.sender_id;
        div.appendChild(who);
      }
      const text = document.createElement('div');
      text.textContent = msg.text;
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = new Date(msg.sent_at).toLocaleTimeString();
      if (mine) {
        const tick = document.createElement('span');
        tick.className = `tick ${msg.status}`;
        tick.textContent = msg.status === 'sent' ? '✓' : '✓✓';
        tick.title = msg.status;
        meta.appendChild(tick);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'delete';
        remove.title = 'delete this message';
        remove.textContent = 'delete';
        remove.addEventListener('click', () =>
          this.deleteMessage(conv, msg).catch((err) => console.warn(err)),
        );
        meta.appendChild(remove);
        if (conv.kind === 'GROUP' && msg.total) {
          const summary = document.createElement('span');
          summary.className = 'summary';
          summary.textContent = `read by ${msg.readCount || 0} of ${msg.total}`;
          meta.appendChild(summary);
        }
      }
      div.append(text, meta);
      this.list.appendChild(div);
    }
  }
}

(async function main() {
  const session = await (await fetch('/demo/api/session')).json();
  const names = new Map(session.users.map((u) => [u.user_id, u.name]));
  const wanted = new URLSearchParams(location.search).get('users');
  const chosen = wanted
    ? session.users.filter((u) => wanted.split(',').includes(u.name.toLowerCase()))
    : session.users;
  const panes = document.getElementById('panes');
  for (const user of chosen) {
    const conversations = session.conversations.filter((c) => c.members.includes(user.user_id));
    new Client(user, conversations, names).start(panes);
  }
})();
