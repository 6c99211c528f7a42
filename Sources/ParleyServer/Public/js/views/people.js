// People: finding users and adding them as contacts, making a group of contacts, and a group's members with their
// roles (an owner sets roles; an owner or admin adds and removes members below their own rank). The members dialog
// also renames the group (its owner and admins) and deletes it (its owner, after asking), as RoomPolicy allows.

import { $, h } from "../dom.js";
import { avatarNode } from "./avatar.js";
import { confirmAction } from "./confirm.js";
import { act, toast } from "./feedback.js";

const rank = { owner: 2, admin: 1, member: 0 };

export function mountPeople({ api, store, sync }) {
  async function search() {
    const query = $("#search").value.trim();
    if (!query) return $("#search-results").replaceChildren();
    const users = await api.request("GET", `/api/users?q=${encodeURIComponent(query)}`);
    const known = new Set(store.contacts.map((contact) => contact.user.id));
    $("#search-results").replaceChildren(
      ...users
        .filter((user) => user.id !== store.me)
        .map((user) =>
          h(
            "li",
            {},
            avatarNode(user, "small"),
            h("span", { class: "name" }, `${user.name} `, h("span", { class: "muted" }, `@${user.username}`)),
            known.has(user.id)
              ? h("span", { class: "muted" }, "contact")
              : h("button", { class: "secondary", dataset: { add: user.username }, "aria-label": `Add ${user.name} as a contact`, onclick: act(() => addContact(user)) }, "Add"),
          ),
        ),
    );
  }

  async function addContact(user) {
    let contact;
    await sync.make(async () => {
      contact = await api.request("POST", "/api/contacts", { username: user.username });
      return contact.room;
    });
    store.addUsers([user]);
    await Promise.all([sync.loadContacts(), sync.loadRooms()]);
    await sync.refreshPresence();
    $("#search").value = "";
    $("#search-results").replaceChildren();
    await sync.open(contact.room);
  }

  let searchTimer;
  $("#search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(act(search), 250);
  });
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(search)();
  });

  $("#new-group").addEventListener(
    "click",
    act(async () => {
      await sync.loadContacts();
      $("#group-candidates").replaceChildren(
        ...(store.contacts.length
          ? store.contacts.map((c) => h("label", {}, h("input", { type: "checkbox", name: "member", value: c.user.id }), ` ${c.user.name}`))
          : [h("p", { class: "muted" }, "Add contacts first, then make a group with them.")]),
      );
      $("#group-dialog").showModal();
    }),
  );

  $("#group-dialog").addEventListener(
    "close",
    act(async () => {
      if ($("#group-dialog").returnValue !== "create") return;
      const form = new FormData($("#group-form"));
      let detail;
      await sync.make(async () => {
        detail = await api.request("POST", "/api/rooms", { name: form.get("name"), members: form.getAll("member") });
        return detail.room.id;
      });
      $("#group-form").reset();
      sync.addRoom(detail.room);
      store.setMembers(detail.room.id, detail.members);
      await sync.open(detail.room.id);
    }),
  );

  function drawMembers() {
    const room = store.current;
    const members = store.members(room) ?? [];
    const myRole = members.find((m) => m.user.id === store.me)?.role ?? "member";
    const setRole = (member) => act((event) => api.request("PATCH", `/api/rooms/${room}/members/${member.user.id}`, { role: event.target.value }));
    const remove = (member) => act(() => api.request("DELETE", `/api/rooms/${room}/members/${member.user.id}`));
    $("#member-list").replaceChildren(
      ...members.map((member) =>
        h(
          "li",
          {},
          avatarNode(member.user, "small"),
          h("span", { class: "name" }, member.user.name),
          myRole === "owner" && member.user.id !== store.me
            ? h(
                "select",
                { "aria-label": `Role of ${member.user.name}`, onchange: setRole(member) },
                ...["member", "admin", "owner"].map((role) => h("option", { value: role, selected: role === member.role }, role)),
              )
            : h("span", { class: "muted" }, member.role),
          rank[myRole] > rank[member.role] ? h("button", { class: "link", "aria-label": `Remove ${member.user.name}`, onclick: remove(member) }, "remove") : null,
        ),
      ),
    );
    const summary = store.room(room);
    $("#members-dialog-title").textContent = `${summary?.name ?? "Group"}: ${members.length} member${members.length === 1 ? "" : "s"}`;
    $("#group-settings").hidden = rank[myRole] < rank.admin;
    if (document.activeElement !== $("#group-name")) $("#group-name").value = summary?.name ?? "";
    $("#delete-group").hidden = myRole !== "owner";
    const inRoom = new Set(members.map((m) => m.user.id));
    const candidates = store.contacts.filter((c) => !inRoom.has(c.user.id));
    $("#member-add").replaceChildren(...candidates.map((c) => h("option", { value: c.user.id }, c.user.name)));
    $("#member-add-button").disabled = candidates.length === 0 || rank[myRole] < 1;
  }

  $("#members").addEventListener(
    "click",
    act(async () => {
      await sync.loadMembers(store.current);
      drawMembers();
      $("#members-dialog").showModal();
    }),
  );

  // A member added or removed (by anyone) redraws the open dialog.
  store.on("members", ({ room }) => room === store.current && $("#members-dialog").open && drawMembers());

  $("#member-add-button").addEventListener(
    "click",
    act(() => api.request("POST", `/api/rooms/${store.current}/members`, { userId: $("#member-add").value, role: "member" })),
  );

  /** Shows a problem with the new name beside its field, or clears it. */
  function nameProblem(words) {
    $("#group-name-error").textContent = words ?? "";
    $("#group-name-error").hidden = !words;
    if (words) $("#group-name").setAttribute("aria-invalid", "true");
    else $("#group-name").removeAttribute("aria-invalid");
  }

  $("#rename-group").addEventListener(
    "click",
    act(async () => {
      const room = store.current;
      const name = $("#group-name").value.trim();
      if (!name) return nameProblem("Give the group a name.");
      try {
        const detail = await api.request("PATCH", `/api/rooms/${room}`, { name });
        nameProblem(null);
        store.updateRoom(room, { name: detail.room?.name ?? name });
        drawMembers();
        toast(`The group is now called ${detail.room?.name ?? name}.`);
      } catch (error) {
        if (error.field === "name" || error.code === "forbidden") return nameProblem(error.message);
        throw error;
      }
    }),
  );

  $("#delete-group").addEventListener(
    "click",
    act(async () => {
      const room = store.room(store.current);
      if (!room) return;
      $("#members-dialog").close();
      const sure = await confirmAction({
        title: `Delete ${room.name}?`,
        text: "The group, its messages and its files go for every member. This cannot be undone.",
        action: "Delete group",
      });
      if (!sure) return;
      await api.request("DELETE", `/api/rooms/${room.id}`);
      store.removeRoom(room.id);
      toast(`${room.name} was deleted.`);
    }),
  );

  $("#leave-group").addEventListener(
    "click",
    act(async () => {
      await api.request("DELETE", `/api/rooms/${store.current}/members/${store.me}`);
      $("#members-dialog").close();
    }),
  );
}
