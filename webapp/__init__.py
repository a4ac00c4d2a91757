"""The web app behind ``python app.py``: a student chat page and an instructor console over the libraries.

``config``   AppConfig (every setting, with defaults and help) and parse_args (flags > ``TUTOR_*`` > defaults)
``auth``     InstructorAuth: the password check, per-client backoff and lockout, signed login tokens
``runtime``  ActiveEngine (the engine all sessions share, swapped for another adapter) and BackgroundJob
``render``   pure functions from results to what the page shows (messages, citations, tables, exports)
``student``  StudentChat: the chat page's handlers (streamed answers, feedback, export)
``console``  InstructorConsole: the console's handlers (documents, FAQ, review queue, training, evaluation)
``access``   CourseAccess: who a console user is (configured admin or database account) and which courses
             they may change; which course ids a student may open
``admin``    AdminConsole: the Admin tab's handlers (courses, accounts), laid out by ``admin_view``
``layout``   build_app / launch: the Gradio page, wiring each component to one handler method

Handlers are plain methods of ``StudentChat`` and ``InstructorConsole``, so a test calls them directly on a
real knowledge base and engine; ``layout`` is the only module that knows which button calls which.
"""
