"""The console's Admin tab: its components and which handler of ``AdminConsole`` each one calls. Built inside
the console's tabs by ``layout._console_tab``; hidden until an admin logs in (``InstructorConsole.my_courses``
shows it), and every handler behind it checks for an admin again.
"""

from __future__ import annotations

import gradio as gr

from webapp.admin import ACCOUNT_HEADERS, COURSE_HEADERS, AdminConsole


def build(admin: AdminConsole, session: gr.State, course_picker: gr.Dropdown, who: gr.Markdown) -> gr.Tab:
    """Lay out the Admin tab in the current ``gr.Tabs`` and wire it; returns the tab (its visibility is set at
    login). ``course_picker`` and ``who``: the console's course picker and "logged in as" line, refreshed after
    a course is created."""
    with gr.Tab("Admin", visible=False, elem_id="admin-tab") as tab:
        gr.Markdown("Create courses and instructor accounts. An instructor changes only the courses given to the "
                    "account; an admin changes every course and this tab. Students see published courses only.")
        gr.Markdown("#### Courses")
        with gr.Row():
            new_course = gr.Textbox(label="New course id (letters, digits, - _ .)", max_lines=1, scale=2,
                                    elem_id="admin-course-id")
            new_title = gr.Textbox(label="Title", max_lines=1, scale=3, elem_id="admin-course-title")
            new_publish = gr.Checkbox(label="Students see it now", value=False, scale=1)
            create_btn = gr.Button("Create course", variant="primary", scale=1, elem_id="admin-course-create")
        with gr.Row():
            pub_course = gr.Dropdown([], label="Course", scale=3, elem_id="admin-publish-course")
            publish_btn = gr.Button("Publish", scale=1, elem_id="admin-publish")
            unpublish_btn = gr.Button("Unpublish", scale=1, elem_id="admin-unpublish")
        course_msg = gr.Markdown("", elem_id="admin-course-message")
        courses = gr.Dataframe(headers=COURSE_HEADERS, label="Courses", interactive=False, elem_id="admin-courses")
        gr.Markdown("#### Instructor accounts")
        pick = gr.Dropdown([], label="Edit an account (or type a new username below)", elem_id="admin-account-pick")
        with gr.Row():
            username = gr.Textbox(label="Username", max_lines=1, scale=2, elem_id="admin-username")
            password = gr.Textbox(label="Password (blank: keep the current one)", type="password", max_lines=1,
                                  scale=2, elem_id="admin-password")
            is_admin = gr.Checkbox(label="Admin", value=False, scale=1, elem_id="admin-is-admin")
        account_courses = gr.Dropdown([], multiselect=True, label="Courses this instructor may change",
                                      elem_id="admin-account-courses")
        with gr.Row():
            save_btn = gr.Button("Save account", variant="primary", elem_id="admin-account-save")
            remove_btn = gr.Button("Remove account", variant="stop", elem_id="admin-account-remove")
        account_msg = gr.Markdown("", elem_id="admin-account-message")
        accounts_table = gr.Dataframe(headers=ACCOUNT_HEADERS, label="Accounts", interactive=False, elem_id="admin-accounts")

    private = dict(api_visibility="private")
    tables = [accounts_table, courses, pick, pub_course, account_courses]
    refresh_picker = dict(fn=admin.console.my_courses, inputs=[session, course_picker], outputs=[course_picker, tab, who],
                          **private)
    tab.select(admin.load, [session], tables, api_name="admin_load", **private)
    create_btn.click(admin.create_course, [session, new_course, new_title, new_publish], [course_msg, *tables],
                     api_name="admin_create_course", **private).then(**refresh_picker)
    for button, published in ((publish_btn, True), (unpublish_btn, False)):
        button.click(admin.set_published, [session, pub_course, gr.State(published)], [course_msg, *tables],
                     api_name="admin_publish" if published else "admin_unpublish", **private)
    pick.input(admin.pick_account, [session, pick], [username, password, is_admin, account_courses],
               api_name="admin_pick_account", **private)
    save_btn.click(admin.save_account, [session, username, password, is_admin, account_courses],
                   [account_msg, password, *tables], api_name="admin_save_account", **private).then(**refresh_picker)
    remove_btn.click(admin.remove_account, [session, pick], [account_msg, *tables], api_name="admin_remove_account",
                     **private).then(**refresh_picker)
    return tab
