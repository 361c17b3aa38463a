"""A bank of original college-essay prose for the essay workflows' sample inputs.

Seven personal stories, each an opening, body paragraphs, a reflection and a closing
that comes back to the opening, plus pools of why-us sentences, prompts by question
type and a few cliché openings; ``samples`` assembles them into essays. The
placeholders ``{friend}``, ``{teacher}``, ``{sibling}``, ``{college}``, ``{program}``,
``{professor}``, ``{course}``, ``{club}`` and ``{place}`` are filled from a seeded cast.
Data only: the sentences were written for this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    """One story: the prompt types it answers and its paragraphs in order."""

    name: str
    fits: tuple[str, ...]
    opening: str
    body: tuple[str, ...]
    reflection: str
    closing: str


TOPICS = (
    Topic(
        "robotics", ("challenge", "activity", "problem"),
        "The robot sat in the middle of the gym floor, perfectly still, while the timer ran "
        "down to zero. Three months of work, and our machine would not even turn on.",
        ("Our team had started the season with more confidence than skill. {friend} "
         "designed the arm, I wrote the code that told it when to lift, and we both "
         "assumed the other had checked the wiring. Nobody had.",
         "After the match, our coach, {teacher}, did not lecture us. She handed me a "
         "multimeter and a roll of tape and asked me to find the fault before Monday. I "
         "spent the weekend tracing every wire with a flashlight in my garage. The problem "
         "turned out to be a single loose connector, smaller than my fingernail, that had "
         "been knocked free when we loaded the robot into the van.",
         "Fixing the connector took five minutes. Admitting why it had happened took "
         "longer. At our next meeting I told the team that I had only tested my code on "
         "a simulator, never on the real robot, and {friend} admitted she had never read "
         "the wiring diagram I drew. We laughed, a little nervously, and then we wrote "
         "down everything each of us had assumed.",
         "We rebuilt our process before we rebuilt the robot. Every change now needed a "
         "second pair of eyes, and every practice began with a checklist that took ten "
         "minutes and saved us hours. At the next competition the arm lifted on the first "
         "try, and when a motor stalled in the semifinal, {friend} and I fixed it in under "
         "two minutes because we knew exactly where to look."),
        "Looking back, I learned that failure is rarely one dramatic mistake. It is usually "
         "a small thing that everyone assumed someone else had handled. I realized that "
         "the most useful engineering skill is not cleverness but the patience to check "
         "what seems too obvious to check.",
        "I still keep that loose connector in a jar on my desk. When a project of mine "
        "stops working, the robot on the gym floor reminds me to start with the smallest "
        "thing.",
    ),
    Topic(
        "bakery", ("activity", "community", "growth"),
        "At five in the morning the bakery on Elm Street smells like butter and burnt "
        "sugar. I know because for two years I unlocked its back door every Saturday.",
        ("Mrs. Haddad hired me when I was fifteen, mostly because I asked three times. My "
         "first job was washing trays, and my second was learning to shape rolls that did "
         "not look like potatoes. She corrected my hands without saying a word, pressing "
         "the dough once and nodding for me to try again.",
         "The customers taught me as much as the ovens did. An older man named Walter came "
         "in every week for one rye loaf and ten minutes of conversation about baseball. A "
         "nurse coming off the night shift always ordered two croissants, one for herself "
         "and one for the bus driver on her route.",
         "Some mornings went badly. I once dropped an entire tray of cinnamon rolls ten "
         "minutes before opening, and Mrs. Haddad simply handed me a broom and started a "
         "new batch. She told me that every baker has a floor story, and that the only "
         "shameful thing is hiding it from the customers.",
         "When Mrs. Haddad hurt her wrist last winter, the bakery nearly closed for a month. "
         "{friend} and I offered to run the morning shift together, and we learned to plan "
         "orders, count the register and apologise when the bread sold out by nine."),
        "That month showed me that a small business is really a web of promises to "
        "neighbours. I understood for the first time that reliability is a kind of "
        "kindness, and that showing up on a cold morning matters more than any speech "
        "about community.",
        "Next year I will not be unlocking that back door on Saturdays. But I will carry "
        "the smell of butter and the habit of early mornings wherever I go.",
    ),
    Topic(
        "kitchen", ("community", "growth", "narrative"),
        "My grandmother measures nothing. She cooks by the colour of the onions and the "
        "sound the oil makes, and for years I thought her recipes were impossible to learn.",
        ("When we moved to this country, the kitchen was the only room that felt like "
         "home. My parents worked late, so my grandmother and I cooked dinner together "
         "while she told stories in a language my classmates had never heard.",
         "At school I spoke English carefully, afraid of every mistake. At home I "
         "corrected my grandmother's English while she corrected my cooking, and we "
         "laughed at how bad we both were. Slowly the two languages stopped feeling like "
         "two separate lives.",
         "Not every recipe survived the translation. My grandmother's idea of a pinch of "
         "cumin is closer to a handful, and my first attempt at her flatbread could have "
         "served as a roof tile. She ate it anyway, slowly and with great ceremony, and "
         "told me that her own mother once burned the bread for an entire wedding.",
         "Last spring I started writing her recipes down, asking her to pause so I could "
         "guess the amounts. {sibling} filmed her hands while I took notes. The notebook "
         "now has forty recipes, each with a story in the margin about the village where "
         "she learned it."),
        "I realized that the notebook is not really about food. It is a record of where "
        "my family comes from, written in two languages, and it taught me that belonging "
        "is something you build by paying attention.",
        "Last week my grandmother tasted my lentil soup and said it needed more onions. "
        "Then she asked me for the recipe, and I knew I had learned something she could "
        "not measure.",
    ),
    Topic(
        "violin", ("challenge", "activity", "growth"),
        "Halfway through the second movement, my mind went completely blank. Four hundred "
        "people were watching, and my bow hung in the air above the strings.",
        ("I had practised that concerto for eight months. I could play it in my sleep, "
         "and I had, more than once, woken up with my fingers moving. But I had never "
         "practised what to do when memory failed in front of an audience.",
         "The silence lasted maybe four seconds, though it felt like a year. Then the "
         "pianist, {friend}, played the opening bars of the phrase again, slowly, and my "
         "hands found their place before my mind did. I finished the piece, bowed, and "
         "walked straight to the bathroom to cry.",
         "For a few weeks I considered quitting. I told my parents that I was better "
         "suited to an instrument in the back row, and I left my violin in its case by "
         "the door as if it might leave on its own. {sibling} finally opened the case and "
         "played the only song she knew, badly, until I took the violin from her to make "
         "it stop.",
         "The next morning {teacher} asked me to play the same passage for her, stopping "
         "at random moments and starting again from wherever she pointed. We did this for "
         "weeks. It was the most boring practice I have ever done, and the most useful."),
        "I learned that confidence is not the feeling that nothing will go wrong. It is "
        "knowing how you will recover when something does. That lesson has carried me "
        "through exams, interviews and a very long driving test.",
        "I played the concerto again in June. My mind did not go blank, but if it had, I "
        "knew exactly where my bow would go next.",
    ),
    Topic(
        "garden", ("community", "problem", "activity"),
        "The empty lot behind our apartment building was full of broken glass, shopping "
        "carts and one stubborn tomato plant that nobody had planted.",
        ("That tomato plant gave {friend} and me an idea. We asked the building manager "
         "if we could clean the lot, and he said yes mostly because he did not think we "
         "would do it. We spent three weekends hauling trash with borrowed gloves.",
         "Getting neighbours involved was harder than moving the carts. I knocked on every "
         "door in the building with a flyer translated into four languages by our "
         "neighbours themselves. Eleven families came to the first meeting, and each "
         "claimed a raised bed built from pallets a hardware store had donated.",
         "Not everything grew. Our first squash plants died of a fungus I had never heard "
         "of, and a storm in June flattened half the beans. I read gardening forums late "
         "into the night, asked the county extension office for advice, and learned to "
         "rotate crops, water in the morning and stop blaming the weather for every "
         "failure.",
         "By August the garden was producing more than we could eat. We set up a table by "
         "the mailboxes where anyone could take vegetables or leave them, and the table "
         "was emptied every evening. Mr. Okoro, who had lived in the building for twenty "
         "years without speaking to most of us, started teaching the children how to "
         "save seeds."),
        "The garden taught me that a community is not something that exists on its own. "
        "It grows when someone gives people a reason to meet, and I discovered that I am "
        "good at giving people that reason.",
        "This summer the lot has fourteen beds and a waiting list. Somewhere in the corner, "
        "the tomato plant's grandchildren are still growing without anyone's permission.",
    ),
    Topic(
        "astronomy", ("intellectual", "growth", "narrative"),
        "The first time I saw Saturn through a telescope, I did not believe it was real. "
        "It looked like a sticker someone had placed on the lens.",
        ("The telescope belonged to our public library, which lends them out like books. "
         "I borrowed it for a week and kept renewing it until the librarian gently "
         "suggested that other people might also like to see Saturn.",
         "So I started reading instead. I wanted to know how anyone could measure the "
         "distance to a star that looks like a pinprick. The answer, parallax, is "
         "simple enough to demonstrate with a thumb held at arm's length, and I spent an "
         "evening making {sibling} close one eye and then the other until she begged me "
         "to stop.",
         "Along the way I discovered how much of astronomy is patience. Clouds covered our "
         "town for eleven nights in a row that October, and I learned to plan "
         "observations around forecasts, the phase of the moon and my own homework. When "
         "the sky finally cleared, I stayed outside until two in the morning and filled "
         "six pages of my logbook.",
         "Parallax led to variable stars, and variable stars led to a summer project with "
         "{teacher}, who helped me analyse public telescope data on a star that brightens "
         "and dims every few days. My graph was messy and my error bars were enormous, but "
         "the period I measured was within two percent of the published value."),
        "What fascinates me is not only the size of the universe but the fact that people "
        "measured it from here, with patience and clever geometry. I realized that "
        "curiosity becomes knowledge when you are willing to be wrong in public, with "
        "your error bars showing.",
        "I have my own telescope now, bought with two summers of savings. Saturn still "
        "looks like a sticker, but now I know how far away that sticker is.",
    ),
    Topic(
        "debate", ("belief", "activity", "challenge"),
        "I joined the debate team to win arguments. I stayed because I lost one that I "
        "was sure I was right about.",
        ("The motion was whether cities should ban cars from their centres. I argued "
         "against it with statistics about delivery costs and small businesses, and I "
         "was proud of my research until {friend} stood up for the other side.",
         "She did not attack my numbers. She described her brother, who uses a wheelchair "
         "and cannot cross the main street near our school without help because of the "
         "traffic. The judges voted for her, and on the bus home I could not stop "
         "thinking about how my careful evidence had left out an entire group of people.",
         "After that round I changed how I prepare. Before every debate I now write the "
         "strongest version of the other side's case, and I interview at least one person "
         "who would be affected by the motion. My speeches became less confident and "
         "much more convincing.",
         "Preparing this way is slower. I now spend as much time on the case I will argue "
         "against as on my own, and my teammates tease me about the spreadsheet where I "
         "track every objection I have heard. But the spreadsheet has changed the way our "
         "team practises, and {teacher} now asks every new member to keep one."),
        "Debate taught me that being persuasive starts with listening. I learned that "
        "changing your mind is not losing, and that the best arguments are the ones that "
        "still hold up after you have honestly tried to break them.",
        "I still like to win arguments. But the one I lost about the city centre is the "
        "one that taught me how to make an argument worth winning.",
    ),
)
CLICHES = (
    "Ever since I was young, I have always wanted to make a difference in the world.",
    "Webster's dictionary defines perseverance as continued effort despite difficulty.",
    "Throughout history, people have faced challenges that tested who they were.",
    "I have always been the kind of person who never gives up.",
)
WHY_INTRO = (
    "When I visited {college} last spring, I walked into {place} and did not want to "
    "leave.",
    "I first heard about {program} at {college} from a student who spoke about it like "
    "a favourite book.",
    "Reading about {college}, I kept returning to one phrase: learning by building.",
    "My interest in {college} began with a lecture by {professor} that I found online at "
    "midnight.",
    "Few schools let a first-year student do what {college} encourages from the first "
    "week.",
    "{college} appeals to me because it treats curiosity as a responsibility.",
    "The reason I am applying to {college} fits in a single course title: {course}.",
    "At {college}, I see a place where my questions about {program} can become projects.",
)
WHY_ACADEMIC = (
    "I hope to major in {program} and take {course} in my first year.",
    "The research of {professor} on cities and water systems is exactly what I want to "
    "study.",
    "Small seminars would let me argue with classmates instead of only taking notes.",
    "I would like to join a lab as an undergraduate and learn how real research fails "
    "and recovers.",
    "The flexible curriculum means I could pair {program} with courses in writing and "
    "ethics.",
    "I am drawn to the capstone, where seniors solve a problem for a local organisation.",
    "{course} sounds like the class I have been trying to teach myself for two years.",
    "Working with {professor} would give me a mentor who asks hard questions.",
    "The study abroad option in the third year fits my plan to compare coastal cities.",
    "I want to learn statistics properly, not just press the buttons in a spreadsheet.",
    "The open access to {place} until midnight matters more to me than any ranking.",
    "I plan to apply for the summer research grant after my first year.",
    "The first-year writing seminar would push me to argue clearly and revise without "
    "fear.",
    "I am excited by the chance to design my own independent study by junior year.",
    "A partnership between {college} and the city transit agency means work on real "
    "data.",
    "I would use {place} to build sensors for the projects I started in high school.",
    "Taking {course} alongside an introduction to philosophy sounds like an ideal first "
    "semester.",
    "The emphasis on field work means I could test ideas outside the classroom from the "
    "start.",
    "Office hours with {professor} are something I would attend every single week.",
    "I value that undergraduates at {college} publish research instead of only reading "
    "it.",
)
WHY_COMMUNITY = (
    "Outside class, I would join {club} and bring my experience organising neighbours.",
    "I would love to write for the campus paper and cover the stories nobody assigns.",
    "I hope to volunteer with the tutoring program that pairs students with local "
    "schools.",
    "{club} is where I imagine spending my Friday evenings, arguing about small details.",
    "I would bring my habit of turning empty spaces into shared ones.",
    "Students at {college} seem to teach each other, and I want to be part of that.",
    "I would start an astronomy night on the roof if nobody has yet.",
    "My experience running a morning shift would help me lead a student project.",
    "I want classmates who disagree with me and stay for dinner afterwards.",
    "I would bring patience, a toolbox and an unreasonable love of checklists.",
    "I would volunteer at the campus food pantry, where my bakery mornings could help.",
    "Joining the hiking club would give me weekends to explore the hills around campus.",
)
WHY_CLOSE = (
    "{college} is where I want to turn my questions into work that matters to others.",
    "I am ready to give {college} four years of early mornings and honest effort.",
    "For me, {college} is not a line on a list but the next place I want to build.",
    "If admitted, I will arrive with a notebook full of questions and room for more.",
    "I cannot think of a better place to learn how much I do not yet know.",
    "That is why {college} is my first choice, and why I will use every opportunity it "
    "offers.",
)
PROMPTS = {
    "challenge": (
        "The lessons we take from obstacles we encounter can be fundamental to later "
        "success. Recount a time when you faced a challenge, setback, or failure. How did "
        "it affect you, and what did you learn from the experience?",
        "Describe a difficult problem or failure you faced and explain how you overcame it."),
    "community": (
        "Describe a community you belong to and how you have contributed to it.",
        "Tell us about your background or identity and how it shapes the perspective you "
        "would bring to our campus community."),
    "intellectual": (
        "Describe a topic, idea, or concept you find so engaging that it makes you lose all "
        "track of time. Why does it captivate you?",
        "Reflect on an academic subject that sparked your intellectual curiosity."),
    "activity": (
        "Briefly elaborate on one of your extracurricular activities or work experiences.",
        "Reflect on an activity that shaped who you are."),
    "growth": (
        "Discuss an accomplishment, event, or realization that sparked a period of personal "
        "growth and a new understanding of yourself or others.",),
    "belief": (
        "Reflect on a time when you questioned or challenged a belief or idea. What "
        "prompted your thinking? What was the outcome?",),
    "problem": (
        "Describe a problem you have solved or would like to solve. Explain its "
        "significance to you and the steps you took toward a solution.",),
    "narrative": (
        "Share a story about yourself that you believe is central to who you are.",),
    "why_us": (
        "Why do you want to attend {college}? Explain how our programs fit your goals.",
        "What excites you about {college}, and how would you contribute to our campus "
        "community?",
        "Why are you interested in {college}? Describe the opportunities you hope to "
        "pursue."),
}
PROGRAMS = ("environmental engineering", "cognitive science", "public health",
            "computer science", "urban planning", "marine biology", "economics",
            "astrophysics", "music and technology", "history")
COURSES = ("Cities and Water", "Introduction to Data and Society", "Stars and Planets",
           "Design for Communities", "The Ethics of Machines", "Food, Culture and Place")
CLUBS = ("the Outing Club", "the student radio station", "the robotics society",
         "the community garden collective", "the debate union", "the chamber orchestra")
PLACES = ("the engineering library", "the student makerspace", "the campus observatory",
          "the riverside research station", "the music building")
SYNONYMS = {
    "started": "began", "learned": "discovered", "small": "little", "asked": "requested",
    "helped": "assisted", "showed": "taught", "really": "truly", "hard": "difficult",
    "spent": "passed", "work": "effort", "proud": "pleased", "careful": "thorough",
    "first": "initial", "stopped": "ceased", "every": "each", "enormous": "huge",
}
